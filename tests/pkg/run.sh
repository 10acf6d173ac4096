#!/bin/sh
# tests/pkg/run.sh: the Debian package's whole life on this host, as an
# administrator would live it. Run as root from a configured build tree
# (.ci/run does, after installing dpkg-dev, debhelper, lintian and
# logrotate): tests/pkg/run.sh [BUILDDIR]
#
#  1. make deb: dpkg-buildpackage -us -uc -b from the release tarball;
#     lintian on the result must report no error (its output is printed);
#  2. dpkg -i ackd and ackd-bench: the user ackd and /var/log/ackd exist;
#  3. /etc/init.d/ackd start (PID 1 here is not systemd): the master runs
#     as ackd, status says 0, a message is acknowledged and logged;
#  4. under load from ackd-bench --unique --record, logrotate -f with the
#     installed /etc/logrotate.d/ackd: it exits 0, the new log receives
#     lines, and every acknowledged message is logged exactly once across
#     the rotated and the new file;
#  5. /etc/init.d/ackd stop: status says 3, the pid file is gone;
#  6. dpkg --purge: the user, its group and its directories are gone.
#
# Refuses to run where ackd is already installed or the user ackd exists,
# so as never to touch an administrator's ackd. Whatever happens, the exit
# trap stops the daemon and purges the packages. Starting services from
# dpkg is kept off (policy-rc.d) so that the test, not the postinst,
# starts ackd, on a port it picked free.
set -u
BUILD=${1:-.}
cd "$BUILD" || exit 1
PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin
tmp=$(mktemp -d /tmp/ackd-pkg.XXXXXX)
fails=0 passes=0
policy_made=no
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

cleanup() {
	if [ -x /etc/init.d/ackd ]; then
		/etc/init.d/ackd stop >/dev/null 2>&1
	fi
	if dpkg -s ackd >/dev/null 2>&1 || dpkg -s ackd-bench >/dev/null 2>&1
	then
		dpkg --purge ackd ackd-bench >/dev/null 2>&1
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
echo "# lintian deb/*.changes:"
lintian --fail-on error deb/ackd_*.changes >"$tmp/lintian" 2>&1
status=$?
sed 's/^/#   /' "$tmp/lintian"
[ -s "$tmp/lintian" ] || echo "#   (no output: no tag at all)"
check "lintian reports no error" [ "$status" = 0 ]

# 2. install, with service starts left to us
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	policy_made=yes
fi
dpkg -i deb/ackd_*.deb deb/ackd-bench_*.deb >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log"; die "dpkg -i installs both packages"; }
ok "dpkg -i installs both packages"
check "the user ackd exists, a system user" \
    sh -c '[ "$(getent passwd ackd | cut -d: -f3)" -lt 1000 ]'
check "/var/log/ackd is ackd:adm 2750" \
    [ "$(stat -c '%U:%G %a' /var/log/ackd)" = "ackd:adm 2750" ]

# 3. start through the init script, on a free loopback port
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -i "s|^ACKD_OPTS=.*|ACKD_OPTS=\"--bind 127.0.0.1 --port $port --log-file $log --workers 2\"|" /etc/default/ackd
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
wait $load
check "ackd-bench: every connection acknowledged" [ $? = 0 ] || cat "$tmp/bench.out"
bench -n 1 -c 1 >/dev/null
last=$(tail -n 1 "$tmp/acked" | cut -d' ' -f1)
check "the new log receives lines after the rotation" grep -q "$last" $log
check "the rotated log kept the lines before it" grep -q "$first" $log.1
# each acknowledged message's tag, and how often the two logs hold it
cut -d' ' -f1 "$tmp/acked" | sort >"$tmp/want"
cat $log.1 $log | grep -o 'msg="b[0-9]*-[0-9]*-[0-9]* ' |
    sed 's/^msg="//; s/ $//' | sort >"$tmp/got"
echo "# $(wc -l <"$tmp/want") acknowledged; $(wc -l <$log.1) lines before the rotation, $(wc -l <$log) after"
check "no message logged twice" [ -z "$(uniq -d "$tmp/got")" ]
check "every acknowledged message logged exactly once across both files" \
    [ -z "$(sort -u "$tmp/got" | comm -23 "$tmp/want" -)" ]

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
[ "$fails" = 0 ]
