#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/pkg/run.sh: the Debian package's whole life on this host, as an
# administrator would live it. Run as root from a configured build tree
# (.ci/run does, after installing dpkg-dev, debhelper, lintian and
# logrotate): tests/pkg/run.sh [BUILDDIR]
#
#  1. make deb: dpkg-buildpackage -us -uc -b from the release tarball;
#     lintian on the result must report no error and no warning (its
#     output is printed, overrides included);
#  2. dpkg -i ackd and ackd-bench: the user ackd and /var/log/ackd exist;
#     systemd-analyze verify accepts the installed units where they are
#     (when systemd-analyze is here: .ci/run installs it);
#  3. /etc/init.d/ackd start (PID 1 here is not systemd): the master runs
#     as ackd, status says 0, a message is acknowledged and logged;
#  4. under load from ackd-bench --unique --record, logrotate -f with the
#     installed /etc/logrotate.d/ackd: it exits 0, the new log receives
#     lines, and every acknowledged message is logged exactly once across
#     the rotated and the new file;
#  5. /etc/init.d/ackd stop: status says 3, the pid file is gone;
#  6. dpkg --purge: the user, its group and its directories are gone, and
#     nothing named ackd is left that was not there before (init links,
#     systemd's enablement links, conffiles): later CI stages find the
#     machine as it was.
#
# Refuses to run where ackd is already installed or the user ackd exists,
# so as never to touch an administrator's ackd. Whatever happens, the exit
# trap stops the daemon and the load, and purges the packages (and, if
# the purge itself failed, removes the user and directories it would
# have). Starting services from
# dpkg is kept off (policy-rc.d) so that the test, not the postinst,
# starts ackd, on a port it picked free.
set -u
BUILD=${1:-.}
cd "$BUILD" || exit 1
PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin
tmp=$(mktemp -d /tmp/ackd-pkg.XXXXXX)
fails=0 passes=0
policy_made=no installed=no load=
pidfile=/run/ackd/ackd.pid
log=/var/log/ackd/ackd.log

ok() { passes=$((passes + 1)); echo "ok - $1"; }
not_ok() { fails=$((fails + 1)); echo "not ok - $1"; return 1; }
# check NAME COMMAND...: ok if COMMAND succeeds
check() {
	name=$1; shift
	if "$@"; then ok "$name"; else not_ok "$name"; fi
}
die() { not_ok "$1"; exit 1; }
# in_log PATTERN FILE: grep -q, waiting up to 10 s for a line to come
in_log() {
	n=0
	until grep -q "$1" "$2" || [ $n -ge 500 ]; do
		sleep 0.02; n=$((n + 1))
	done
	grep -q "$1" "$2"
}

# the files and links named ackd in the places a package or its scripts
# write to (the run directory aside: /run/ackd is checked by name)
ackd_files() {
	find /etc /lib/systemd /usr/lib/systemd /usr/lib/sysusers.d \
	    /usr/lib/tmpfiles.d /usr/sbin /usr/bin /usr/share/man \
	    /usr/share/doc /usr/share/lintian /var/lib/systemd /var/log \
	    -name '*ackd*' 2>/dev/null | sort
}

# The exit trap: whatever happened, leave the machine as it was. Only
# what this script made is touched: it refused to start where ackd or the
# user ackd existed, so any of them is ours.
cleanup() {
	[ -z "$load" ] || kill "$load" 2>/dev/null
	if [ -x /etc/init.d/ackd ]; then
		/etc/init.d/ackd stop >/dev/null 2>&1
	fi
	if [ "$installed" = yes ]; then
		# a process of the user ackd the stop missed: by its pid
		pids=$(ps -u ackd -o pid= 2>/dev/null)
		# shellcheck disable=SC2086 # one word per pid
		[ -z "$pids" ] || kill -KILL $pids 2>/dev/null
		if dpkg -s ackd >/dev/null 2>&1 || dpkg -s ackd-bench >/dev/null 2>&1
		then
			dpkg --purge ackd ackd-bench >/dev/null 2>&1 ||
			    dpkg --purge --force-all ackd ackd-bench >/dev/null 2>&1
		fi
		# what the purge should have removed, had it failed
		getent passwd ackd >/dev/null && userdel ackd 2>/dev/null
		getent group ackd >/dev/null && groupdel ackd 2>/dev/null
		rm -rf /var/log/ackd /run/ackd
	fi
	[ "$policy_made" = yes ] && rm -f /usr/sbin/policy-rc.d
	rm -rf "$tmp"
	echo "pkg: $passes passed, $fails failed"
}

[ "$(id -u)" = 0 ] || { echo "tests/pkg/run.sh: run it as root" >&2; exit 1; }
for tool in dpkg-buildpackage lintian logrotate start-stop-daemon; do
	command -v $tool >/dev/null 2>&1 || {
		echo "tests/pkg/run.sh: $tool is missing (./bootstrap --ci" \
		    "installs it)" >&2; exit 1; }
done
if dpkg -s ackd >/dev/null 2>&1 || getent passwd ackd >/dev/null; then
	echo "tests/pkg/run.sh: ackd is installed or the user ackd exists" \
	    "here; not touching it" >&2
	exit 1
fi
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# 1. build, lint
echo "# make deb"
make -s deb >"$tmp/build.log" 2>&1 || { tail -40 "$tmp/build.log"; die "make deb"; }
ok "make deb: dpkg-buildpackage -us -uc -b builds the packages"
ls deb/ackd_*.deb deb/ackd-bench_*.deb >/dev/null 2>&1 || die "ackd_*.deb and ackd-bench_*.deb exist"
# lintian warns against running as root: as nobody, on copies of the
# packages in a directory the user nobody can enter (lintian changes
# directory, which fails in a build tree others cannot enter: root's)
lint_as= lint_dir="$tmp/lint"
mkdir "$lint_dir" && cp deb/ackd*.changes deb/ackd*.deb deb/ackd*.buildinfo "$lint_dir"/ &&
    chmod 755 "$tmp" "$lint_dir" && chmod 644 "$lint_dir"/* ||
    die "copy the packages for lintian"
if command -v setpriv >/dev/null 2>&1; then
	lint_as="setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME=/nonexistent"
fi
echo "# lintian --fail-on error,warning --display-info --show-overrides ackd_*.changes${lint_as:+ (as nobody)}:"
(cd "$lint_dir" && $lint_as lintian --fail-on error,warning --display-info \
    --show-overrides "$lint_dir"/ackd_*.changes) >"$tmp/lintian" 2>&1
status=$?
sed 's/^/#   /' "$tmp/lintian"
[ -s "$tmp/lintian" ] || echo "#   (no output: no tag at all)"
check "lintian reports no error and no warning" [ "$status" = 0 ]

# 2. install, with service starts left to us
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	policy_made=yes
fi
before=$(ackd_files)
installed=yes
dpkg -i deb/ackd_*.deb deb/ackd-bench_*.deb >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log"; die "dpkg -i installs both packages"; }
ok "dpkg -i installs both packages"
check "the user ackd exists, a system user" \
    sh -c '[ "$(getent passwd ackd | cut -d: -f3)" -lt 1000 ]'
check "/var/log/ackd is ackd:adm 2750" \
    [ "$(stat -c '%U:%G %a' /var/log/ackd)" = "ackd:adm 2750" ]

# the units as installed: their ExecStart= and man page exist now
units="/lib/systemd/system/ackd.service /lib/systemd/system/ackd-hardened.service /lib/systemd/system/ackd.socket"
if command -v systemd-analyze >/dev/null 2>&1; then
	man=yes
	command -v man >/dev/null 2>&1 || man=no
	echo "# systemd-analyze verify --man=$man $units:"
	# shellcheck disable=SC2086 # one word per unit
	systemd-analyze verify --man=$man $units >"$tmp/verify" 2>&1
	status=$?
	sed 's/^/#   /' "$tmp/verify"
	[ -s "$tmp/verify" ] || echo "#   (no output)"
	quiet=no
	[ "$status" = 0 ] && [ ! -s "$tmp/verify" ] && quiet=yes
	check "systemd-analyze verify accepts the installed units, silently" \
	    [ "$quiet" = yes ]
else
	echo "ok - # SKIP systemd-analyze verify: systemd-analyze is not installed"
fi

# 3. start through the init script, on a free loopback port
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -i "s|^ACKD_OPTS=.*|ACKD_OPTS=\"--bind 127.0.0.1 --port $port --log-file $log --workers 2\"|" /etc/default/ackd
# ackd.service's command line, as systemd would run it (PID 1 here is
# not systemd): ExecStart= with /etc/default/ackd's ACKD_OPTS, as the
# unit's User= and Group=, given --check: the flags parse and ackd, not
# root, may open the log
exec_start=$(sed -n 's/^ExecStart=//p' /lib/systemd/system/ackd.service)
unit_user=$(sed -n 's/^User=//p' /lib/systemd/system/ackd.service)
unit_group=$(sed -n 's/^Group=//p' /lib/systemd/system/ackd.service)
# shellcheck disable=SC1091 # the installed file
(. /etc/default/ackd && eval "setpriv --reuid=$unit_user --regid=$unit_group \
    --init-groups $exec_start --check") >"$tmp/check.log" 2>&1
check "ackd.service's ExecStart as $unit_user:$unit_group, with --check, exits 0" \
    [ $? = 0 ] || cat "$tmp/check.log"

/etc/init.d/ackd start >"$tmp/start.log" 2>&1 || { cat "$tmp/start.log"; die "/etc/init.d/ackd start"; }
ok "/etc/init.d/ackd start"
/etc/init.d/ackd status >/dev/null
check "/etc/init.d/ackd status says running (0)" [ $? = 0 ]
master=$(cat $pidfile 2>/dev/null)
check "the master runs as ackd (no root, no warning about it)" \
    [ "$(ps -o user= -p "${master:-0}" 2>/dev/null)" = ackd ]
check "no warning about root from the start nor in the log" \
    sh -c "! grep -q 'running as root' $log $tmp/start.log"
bench() {
	ackd-bench -p "$port" -q --unique --record "$tmp/acked" "$@"
}
bench -n 1 -c 1 >/dev/null
check "a message is acknowledged" [ $? = 0 ]
first=$(tail -n 1 "$tmp/acked" | cut -d' ' -f1)
check "and logged in $log" grep -q "$first" $log

# 4. logrotate -f under load: nothing acknowledged is lost or doubled
bench -c 8 -d 4 >"$tmp/bench.out" 2>&1 &
load=$!
# rotate once the load is on: its first message is in the log
n=0
until [ "$(wc -l <$log)" -gt 20 ] || [ $n -ge 500 ]; do
	sleep 0.02; n=$((n + 1))
done
logrotate -v -f -s "$tmp/logrotate.state" /etc/logrotate.d/ackd >"$tmp/rotate.log" 2>&1
check "logrotate -f with the installed config exits 0 during the load" [ $? = 0 ] ||
    cat "$tmp/rotate.log"
check "the new log is ackd:adm 0640" [ "$(stat -c '%U:%G %a' $log)" = "ackd:adm 640" ]
# ackd also reopens by itself, within a second, a log replaced under it
# (its line then says reason=): only a line without one is the SIGHUP of
# the postrotate script (handled after its kill returns: wait for it)
check "the postrotate's SIGHUP reached the master: its reopen line in the new log" \
    in_log "pid=$master event=reopen\$" $log
wait $load
check "ackd-bench: every connection acknowledged" [ $? = 0 ] || cat "$tmp/bench.out"
load=
bench -n 1 -c 1 >/dev/null
last=$(tail -n 1 "$tmp/acked" | cut -d' ' -f1)
check "the new log receives lines after the rotation" grep -q "$last" $log
check "the rotated log kept the lines before it" grep -q "$first" $log.1
# each acknowledged message's tag, and how often the two logs hold it
cut -d' ' -f1 "$tmp/acked" | sort >"$tmp/want"
cat $log.1 $log | grep -o 'msg="b[0-9]*-[0-9]*-[0-9]* ' |
    sed 's/^msg="//; s/ $//' | sort >"$tmp/got"
lost=$(sort -u "$tmp/got" | comm -23 "$tmp/want" - | wc -l)
twice=$(uniq -d "$tmp/got" | wc -l)
echo "# $(wc -l <"$tmp/want") acknowledged, $(wc -l <"$tmp/got") logged" \
    "($(wc -l <$log.1) lines before the rotation, $(wc -l <$log) after):" \
    "lost $lost, logged twice $twice"
check "no message logged twice" [ "$twice" = 0 ]
check "every acknowledged message logged exactly once across both files" \
    [ "$lost" = 0 ]

# 5. stop
/etc/init.d/ackd stop >/dev/null 2>&1
check "/etc/init.d/ackd stop" [ $? = 0 ]
/etc/init.d/ackd status >/dev/null
check "/etc/init.d/ackd status says not running (3)" [ $? = 3 ]
check "the pid file is gone" [ ! -e $pidfile ]
# live ones: a master that exited may stay a zombie until PID 1 reaps it
alive() { ps -u ackd -o stat= 2>/dev/null | grep -qv '^Z'; }
n=0
while alive && [ $n -lt 250 ]; do sleep 0.02; n=$((n + 1)); done
check "no process of the user ackd is left" sh -c "! ps -u ackd -o stat= | grep -qv '^Z'" ||
    ps -u ackd -o pid,ppid,stat,args

# 6. purge
dpkg --purge ackd ackd-bench >"$tmp/purge.log" 2>&1
check "dpkg --purge removes both packages" [ $? = 0 ] || cat "$tmp/purge.log"
check "purge removes the user ackd and its group" \
    sh -c '! getent passwd ackd && ! getent group ackd'
check "purge removes /var/log/ackd, /run/ackd and /etc/init.d/ackd" \
    sh -c '[ ! -e /var/log/ackd ] && [ ! -e /run/ackd ] && [ ! -e /etc/init.d/ackd ]'
after=$(ackd_files)
check "purge leaves no file named ackd that was not there before (rc.d and systemd links, conffiles)" \
    [ "$after" = "$before" ] || { echo "$before" >"$tmp/before"
	echo "$after" | diff "$tmp/before" - | sed 's/^/#   /'; }
[ "$fails" = 0 ]
