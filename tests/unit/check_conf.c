/* SPDX-License-Identifier: MIT */
/*
 * check_conf.c: unit tests of the defaults, flag parsing and range checks
 * in conf.c.
 *
 * The limits come from ackd.h, the flag names from the manual: neither is
 * read back from conf.c's own table, so a slip there shows up here.
 */
#include "config.h"

#include <check.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "ackd.h"
#include "worker.h"

/* Room for the words of one command line, which conf_parse keeps. */
#define CHECK_CONF_ARGC	16
#define CHECK_CONF_STORE	8192

static struct {
	char	 store[CHECK_CONF_STORE];
	char	*argv[CHECK_CONF_ARGC + 1];
	int	 argc;
} check_conf_args;

/* The last error conf_parse wrote. */
static char	check_conf_err[256];

/*
 * Every flag: long name, short letter (0: long only), and whether it
 * takes a value (2: an optional one, --syslog[=FACILITY]).
 */
static const struct {
	const char	*name;
	char		 letter;
	int		 has_arg;
} check_conf_flags[] = {
	{ "bind", 'b', 1 },
	{ "port", 'p', 1 },
	{ "backlog", 0, 1 },
	{ "workers", 'w', 1 },
	{ "threads", 't', 1 },
	{ "queue", 'q', 1 },
	{ "max-connections", 0, 1 },
	{ "max-message", 'm', 1 },
	{ "max-memory", 0, 1 },
	{ "read-timeout", 'r', 1 },
	{ "shutdown-timeout", 0, 1 },
	{ "defer-accept", 0, 1 },
	{ "ack", 'a', 1 },
	{ "log-file", 'l', 1 },
	{ "log-format", 'f', 1 },
	{ "sync", 0, 0 },
	{ "max-connections-per-ip", 0, 1 },
	{ "daemon", 'd', 0 },
	{ "pid-file", 'P', 1 },
	{ "user", 'u', 1 },
	{ "group", 'g', 1 },
	{ "worker-timeout", 0, 1 },
	{ "max-connections-per-worker", 0, 1 },
	{ "stats-interval", 0, 1 },
	{ "metrics", 0, 1 },
	{ "proxy-protocol", 0, 0 },
	{ "proxy-from", 0, 1 },
	{ "allow", 0, 1 },
	{ "ipv6-only", 0, 0 },
	{ "reuseport", 0, 0 },
	{ "framing", 0, 1 },
	{ "syslog", 0, 2 },
	{ "log-tag", 0, 1 },
	{ "syslog-max", 0, 1 },
	{ "event-interval", 0, 1 },
	{ "tls-port", 0, 1 },
	{ "tls-only", 0, 0 },
	{ "tls-cert", 0, 1 },
	{ "tls-key", 0, 1 },
	{ "tls-client-ca", 0, 1 },
	{ "tls-min-version", 0, 1 },
	{ "tls-ciphers", 0, 1 },
	{ "tls-ciphersuites", 0, 1 },
	{ "check", 0, 0 },
	{ "help", 'h', 0 },
	{ "version", 'V', 0 },
};

#define CHECK_CONF_NFLAGS \
	(int)nitems(check_conf_flags)

enum check_conf_kind {
	CHECK_CONF_INT,	/* int field, whole number */
	CHECK_CONF_SIZE,	/* size_t field, whole number */
	CHECK_CONF_MSEC	/* int field in ms, given in decimal seconds */
};

/* Every numeric flag, its field, its limits and one ordinary value. */
static const struct {
	const char		*name;
	char			 letter;
	size_t			 offset;
	enum check_conf_kind	 kind;
	long long		 min, max;	/* in the field's units */
	const char		*value;
	long long		 want;
} check_conf_nums[] = {
	{ "port", 'p', offsetof(struct ackd_config, port),
	    CHECK_CONF_INT, 0, 65535, "1234", 1234 },
	{ "backlog", 0, offsetof(struct ackd_config, backlog),
	    CHECK_CONF_INT, 1, ACKD_BACKLOG_MAX, "77", 77 },
	{ "workers", 'w', offsetof(struct ackd_config, workers),
	    CHECK_CONF_INT, 1, ACKD_WORKERS_MAX, "3", 3 },
	{ "threads", 't', offsetof(struct ackd_config, threads),
	    CHECK_CONF_INT, 1, ACKD_THREADS_MAX, "5", 5 },
	{ "queue", 'q', offsetof(struct ackd_config, queue),
	    CHECK_CONF_INT, 1, ACKD_QUEUE_MAX, "9", 9 },
	{ "max-connections", 0, offsetof(struct ackd_config, max_connections),
	    CHECK_CONF_INT, 1, ACKD_CONNECTIONS_MAX, "4000", 4000 },
	{ "max-message", 'm', offsetof(struct ackd_config, max_message),
	    CHECK_CONF_SIZE, 1, ACKD_MESSAGE_MAX, "4096", 4096 },
	{ "max-memory", 0, offsetof(struct ackd_config, max_memory),
	    CHECK_CONF_SIZE, 1, ACKD_MEMORY_MAX, "1048576", 1048576 },
	{ "read-timeout", 'r', offsetof(struct ackd_config, read_timeout_ms),
	    CHECK_CONF_MSEC, 1, ACKD_TIMEOUT_MAX_MS, "2.5", 2500 },
	{ "shutdown-timeout", 0,
	    offsetof(struct ackd_config, shutdown_timeout_ms),
	    CHECK_CONF_MSEC, 0, ACKD_TIMEOUT_MAX_MS, "0.25", 250 },
	{ "defer-accept", 0, offsetof(struct ackd_config, defer_accept_ms),
	    CHECK_CONF_MSEC, 0, ACKD_TIMEOUT_MAX_MS, "1.5", 1500 },
	{ "max-connections-per-ip", 0, offsetof(struct ackd_config,
	    max_per_ip), CHECK_CONF_INT, 0, ACKD_PER_IP_MAX, "3", 3 },
	{ "max-connections-per-worker", 0, offsetof(struct ackd_config,
	    max_per_worker), CHECK_CONF_INT, 0, ACKD_PER_WORKER_MAX, "500",
	    500 },
	{ "stats-interval", 0, offsetof(struct ackd_config, stats_interval_ms),
	    CHECK_CONF_MSEC, 0, ACKD_TIMEOUT_MAX_MS, "60", 60000 },
	{ "event-interval", 0, offsetof(struct ackd_config, event_interval_ms),
	    CHECK_CONF_MSEC, 0, ACKD_TIMEOUT_MAX_MS, "0.5", 500 },
};

#define CHECK_CONF_NNUMS \
	(int)nitems(check_conf_nums)

/* Build argv as "ackd" and the words from ap, up to a NULL. */
static void
check_conf_argv(va_list ap)
{
	const char	*w;
	size_t		 used = 0, len;

	memset(&check_conf_args, 0, sizeof(check_conf_args));
	for (w = "ackd"; w != NULL; w = va_arg(ap, const char *)) {
		len = strlen(w) + 1;
		ck_assert_msg(check_conf_args.argc < CHECK_CONF_ARGC &&
		    used + len <= CHECK_CONF_STORE, "test command too long");
		memcpy(check_conf_args.store + used, w, len);
		check_conf_args.argv[check_conf_args.argc++] =
		    check_conf_args.store + used;
		used += len;
	}
	check_conf_args.argv[check_conf_args.argc] = NULL;
}

/* Parse "ackd" and the words from ap into cfg. */
static enum conf_result
check_conf_vparse(struct ackd_config *cfg, va_list ap)
{
	check_conf_argv(ap);
	memset(check_conf_err, 'X', sizeof(check_conf_err) - 1);
	check_conf_err[sizeof(check_conf_err) - 1] = '\0';
	return (conf_parse(cfg, check_conf_args.argc,
	    check_conf_args.argv, check_conf_err,
	    sizeof(check_conf_err)));
}

/* Parse "ackd" and the words given (NULL last) into cfg as it is. */
static enum conf_result __attribute__((sentinel))
check_conf_parse(struct ackd_config *cfg, ...)
{
	enum conf_result	rc;
	va_list			ap;

	va_start(ap, cfg);
	rc = check_conf_vparse(cfg, ap);
	va_end(ap);
	return (rc);
}

/* conf_defaults, then parse the words given (NULL last). */
static enum conf_result __attribute__((sentinel))
check_conf_fresh(struct ackd_config *cfg, ...)
{
	enum conf_result	rc;
	va_list			ap;

	conf_defaults(cfg);
	va_start(ap, cfg);
	rc = check_conf_vparse(cfg, ap);
	va_end(ap);
	return (rc);
}

/* Assert rc is an error whose one-line message starts with prefix, has what. */
static void
check_conf_assert_error(enum conf_result rc, const char *prefix,
    const char *what, const char *context)
{
	const unsigned char	*p;

	ck_assert_msg(rc == CONF_ERROR, "%s: accepted (rc %d)", context, rc);
	ck_assert_msg(strchr(check_conf_err, '\n') == NULL,
	    "%s: error is not one line: '%s'", context, check_conf_err);
	for (p = (const unsigned char *)check_conf_err; *p != '\0'; p++)
		ck_assert_msg(*p >= 0x20 && *p <= 0x7e, "%s: error has byte "
		    "0x%02x outside printable ASCII", context, *p);
	ck_assert_msg(strncmp(check_conf_err, prefix, strlen(prefix)) == 0,
	    "%s: error '%s' does not start with '%s'", context,
	    check_conf_err, prefix);
	ck_assert_msg(strstr(check_conf_err, what) != NULL,
	    "%s: error '%s' does not say '%s'", context, check_conf_err,
	    what);
}

/* The value of numeric flag i's field in cfg. */
static long long
check_conf_field(const struct ackd_config *cfg, int i)
{
	const char	*p = (const char *)cfg + check_conf_nums[i].offset;
	size_t		 z;
	int		 v;

	if (check_conf_nums[i].kind == CHECK_CONF_SIZE) {
		memcpy(&z, p, sizeof(z));
		return ((long long)z);
	}
	memcpy(&v, p, sizeof(v));
	return (v);
}

/* Write v (in the field's units) as flag i takes it on the command line. */
static void
check_conf_value(int i, long long v, char *buf, size_t size)
{
	if (check_conf_nums[i].kind != CHECK_CONF_MSEC)
		snprintf(buf, size, "%lld", v);
	else
		snprintf(buf, size, "%s%lld.%03lld", v < 0 ? "-" : "",
		    (v < 0 ? -v : v) / 1000, (v < 0 ? -v : v) % 1000);
}

START_TEST(check_conf_defaults_values)
{
	struct ackd_config	cfg;
	long			ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	memset(&cfg, 0x5a, sizeof(cfg));
	conf_defaults(&cfg);
	ck_assert_int_eq(cfg.nbind, 1);
	ck_assert_str_eq(cfg.bind[0], "0.0.0.0");
	ck_assert_int_eq(cfg.port, 9999);
	ck_assert_int_eq(cfg.backlog, 511);
	ck_assert_int_ge(cfg.workers, 1);
	ck_assert_int_le(cfg.workers, ACKD_WORKERS_MAX);
	if (ncpu >= 1 && ncpu <= ACKD_WORKERS_MAX)
		ck_assert_msg(cfg.workers == ncpu, "workers %d, online CPUs "
		    "%ld", cfg.workers, ncpu);
	ck_assert_int_eq(cfg.threads, 16);
	ck_assert_int_eq(cfg.queue, 256);
	ck_assert_int_eq(cfg.max_connections, 0);	/* sized at start */
	ck_assert_uint_eq(cfg.max_message, 1024);
	ck_assert_int_eq(cfg.read_timeout_ms, 10000);
	ck_assert_int_eq(cfg.shutdown_timeout_ms, 10000);
	ck_assert_str_eq(cfg.ack, "ACK!");
	ck_assert_uint_eq(cfg.ack_len, 4);
	ck_assert_ptr_null(cfg.log_file);
	ck_assert_int_eq(cfg.log_format, ACKD_LOG_TEXT);
	ck_assert_int_eq(cfg.event_interval_ms, 10000);
}
END_TEST

START_TEST(check_conf_no_args_keeps_defaults)
{
	struct ackd_config	cfg, def;

	conf_defaults(&def);
	/* the defaults that depend on another flag are resolved */
	def.defer_accept_ms = def.read_timeout_ms;
	def.worker_timeout_ms = def.read_timeout_ms + 20000;
	def.max_memory = 0;	/* 1024-byte messages never need it */
	ck_assert_int_eq(check_conf_fresh(&cfg, NULL), CONF_RUN);
	ck_assert_msg(memcmp(&cfg, &def, sizeof(cfg)) == 0,
	    "parsing no flags changed the defaults");
}
END_TEST

/*
 * --max-memory: by default a message of --max-message and its line for
 * every thread, but at most 256 MiB and at least one message; less
 * than one message is refused.
 */
START_TEST(check_conf_max_memory)
{
	struct ackd_config	cfg;
	size_t			need;

	ck_assert_int_eq(check_conf_fresh(&cfg, "--max-memory", "1", NULL),
	    CONF_RUN);
	ck_assert_uint_eq(cfg.max_memory, 1);	/* nothing large to hold */
	ck_assert_int_eq(check_conf_fresh(&cfg, "-m", "65536", "-t", "4",
	    NULL), CONF_RUN);
	need = conf_need(&cfg);
	ck_assert_uint_gt(need, 5 * 65536);	/* message and escaped line */
	ck_assert_uint_eq(cfg.max_memory, 4 * need);
	ck_assert_int_eq(check_conf_fresh(&cfg, "-m", "1048576", "-f",
	    "json", "-t", "1024", NULL), CONF_RUN);
	ck_assert_uint_gt(conf_need(&cfg), 7 * 1048576);
	ck_assert_uint_eq(cfg.max_memory, ACKD_MEMORY_DEFAULT_MAX);
	check_conf_assert_error(check_conf_fresh(&cfg, "-m", "65536",
	    "--max-memory", "65536", NULL), "--max-memory: ", "allowed:",
	    "a budget too small for one message");
	ck_assert_int_eq(check_conf_fresh(&cfg, "-m", "65536",
	    "--max-memory", "400000", NULL), CONF_RUN);
	ck_assert_uint_eq(cfg.max_memory, 400000);
}
END_TEST

/* --sync is a switch: off by default, on when given, takes no value. */
START_TEST(check_conf_sync_switch)
{
	struct ackd_config	cfg;

	ck_assert_int_eq(check_conf_fresh(&cfg, NULL), CONF_RUN);
	ck_assert_int_eq(cfg.sync, 0);
	ck_assert_int_eq(check_conf_fresh(&cfg, "--sync", NULL), CONF_RUN);
	ck_assert_int_eq(cfg.sync, 1);
	check_conf_assert_error(check_conf_fresh(&cfg, "--sync=1", NULL),
	    "unknown option ", "'--sync=1'", "value on --sync");
}
END_TEST

/* --check is a switch: off by default, on when given, takes no value. */
START_TEST(check_conf_check_switch)
{
	struct ackd_config	cfg;

	ck_assert_int_eq(check_conf_fresh(&cfg, NULL), CONF_RUN);
	ck_assert_int_eq(cfg.check, 0);
	ck_assert_int_eq(check_conf_fresh(&cfg, "--check", "-p", "1", NULL),
	    CONF_RUN);
	ck_assert_int_eq(cfg.check, 1);
	check_conf_assert_error(check_conf_fresh(&cfg, "--check=1", NULL),
	    "unknown option ", "'--check=1'", "value on --check");
	/* the flags are still checked: a bad one is the same error */
	check_conf_assert_error(check_conf_fresh(&cfg, "--check", "-p",
	    "70000", NULL), "--port: ", "out of range", "--check, bad port");
}
END_TEST

/* --defer-accept follows --read-timeout unless given; 0 turns it off. */
START_TEST(check_conf_defer_accept_default)
{
	struct ackd_config	cfg;

	ck_assert_int_eq(check_conf_fresh(&cfg, "--read-timeout", "2.5",
	    NULL), CONF_RUN);
	ck_assert_int_eq(cfg.defer_accept_ms, 2500);
	ck_assert_int_eq(check_conf_fresh(&cfg, "--defer-accept", "0",
	    "--read-timeout", "3", NULL), CONF_RUN);
	ck_assert_int_eq(cfg.defer_accept_ms, 0);
	ck_assert_int_eq(check_conf_fresh(&cfg, "--defer-accept", "7",
	    NULL), CONF_RUN);
	ck_assert_int_eq(cfg.defer_accept_ms, 7000);
	ck_assert_int_eq(cfg.read_timeout_ms, 10000);
}
END_TEST

/*
 * --worker-timeout follows --read-timeout unless given (the watchdog must
 * not take a slow client for a stuck worker); given, it must exceed it.
 */
START_TEST(check_conf_worker_timeout)
{
	struct ackd_config	cfg;

	ck_assert_int_eq(check_conf_fresh(&cfg, "--read-timeout", "2.5",
	    NULL), CONF_RUN);
	ck_assert_int_eq(cfg.worker_timeout_ms, 22500);
	ck_assert_int_eq(check_conf_fresh(&cfg, "--worker-timeout", "0",
	    NULL), CONF_RUN);
	ck_assert_int_eq(cfg.worker_timeout_ms, 0);
	ck_assert_int_eq(check_conf_fresh(&cfg, "--read-timeout", "1",
	    "--worker-timeout", "1.001", NULL), CONF_RUN);
	ck_assert_int_eq(cfg.worker_timeout_ms, 1001);
	check_conf_assert_error(check_conf_fresh(&cfg, "--worker-timeout",
	    "10", NULL), "--worker-timeout: ", "not longer than --read-timeout",
	    "equal to the read timeout");
	check_conf_assert_error(check_conf_fresh(&cfg, "--worker-timeout",
	    "3", "--read-timeout", "5", NULL), "--worker-timeout: ",
	    "(allowed: 0, which is off, or more than the read timeout)",
	    "below the read timeout");
	check_conf_assert_error(check_conf_fresh(&cfg, "--worker-timeout",
	    "86401", NULL), "--worker-timeout: ", "out of range", "too long");
}
END_TEST

/* The operations flags: strings kept as given, --daemon needs a log file. */
START_TEST(check_conf_operations)
{
	struct ackd_config	cfg;

	ck_assert_int_eq(check_conf_fresh(&cfg, NULL), CONF_RUN);
	ck_assert_int_eq(cfg.daemon, 0);
	ck_assert_ptr_null(cfg.pid_file);
	ck_assert_ptr_null(cfg.user);
	ck_assert_ptr_null(cfg.group);
	ck_assert_str_eq(cfg.metrics, "");
	ck_assert_int_eq(check_conf_fresh(&cfg, "-d", "-l", "/x.log", "-P",
	    "/run/a.pid", "-u", "nobody", "-g", "nogroup", NULL), CONF_RUN);
	ck_assert_int_eq(cfg.daemon, 1);
	ck_assert_pstr_eq(cfg.pid_file, "/run/a.pid");
	ck_assert_pstr_eq(cfg.user, "nobody");
	ck_assert_pstr_eq(cfg.group, "nogroup");
	check_conf_assert_error(check_conf_fresh(&cfg, "--daemon", NULL),
	    "--daemon: ", "(allowed: --log-file PATH or --syslog)", "daemon to stdout");
	check_conf_assert_error(check_conf_fresh(&cfg, "--daemon", "-l",
	    "x", "-l", "-", NULL), "--daemon: ", "standard output",
	    "daemon to -");
	check_conf_assert_error(check_conf_fresh(&cfg, "--pid-file", "",
	    NULL), "--pid-file: ", "empty path", "empty pid file");
	check_conf_assert_error(check_conf_fresh(&cfg, "--user", "",
	    NULL), "--user: ", "not a name", "empty user");
	check_conf_assert_error(check_conf_fresh(&cfg, "--group", NULL),
	    "--group: ", "missing value", "no group");
}
END_TEST

/* --metrics takes a numeric ADDR:PORT, IPv6 in brackets, nothing else. */
START_TEST(check_conf_metrics)
{
	static const char	*good[] = { "127.0.0.1:9100", "0.0.0.0:0",
	    "[::1]:65535", "[::]:80", "[fe80::1%1]:9" };
	static const char	*bad[] = { "", ":9100", "127.0.0.1",
	    "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:+9",
	    "127.0.0.1:9x", "::1:9100", "[127.0.0.1]:9100", "[::1]9100",
	    "[::1]", "localhost:9100", "127.0.0.1:0123456", "1.2.3:80" };
	struct ackd_config	cfg;
	size_t			i;

	for (i = 0; i < nitems(good); i++) {
		ck_assert_msg(check_conf_fresh(&cfg, "--metrics", good[i],
		    NULL) == CONF_RUN, "--metrics %s refused: %s", good[i],
		    check_conf_err);
		ck_assert_str_eq(cfg.metrics, good[i]);
	}
	for (i = 0; i < nitems(bad); i++)
		check_conf_assert_error(check_conf_fresh(&cfg, "--metrics",
		    bad[i], NULL), "--metrics: ", "is not ADDR:PORT", bad[i]);
}
END_TEST

/*
 * --proxy-protocol is off by default; --proxy-from adds ranges, repeated
 * or comma-separated, and needs --proxy-protocol.
 */
START_TEST(check_conf_proxy)
{
	static const char	*bad[] = { "", ",", "10.0.0.0/8,", ",::1",
	    "10.0.0.0/33", "10.0.0.0/8;::1", "localhost", "10.0.0.0/8 ::1",
	    "010.0.0.0/8", "::1/129", "[::1]" };
	struct ackd_config	cfg;
	char			many[ACKD_PROXY_FROM_MAX * 16];
	size_t			i;

	ck_assert_int_eq(check_conf_fresh(&cfg, NULL), CONF_RUN);
	ck_assert_int_eq(cfg.proxy_protocol, 0);
	ck_assert_int_eq(cfg.proxy_from_n, 0);
	ck_assert_int_eq(check_conf_fresh(&cfg, "--proxy-protocol", NULL),
	    CONF_RUN);
	ck_assert_int_eq(cfg.proxy_protocol, 1);
	ck_assert_int_eq(cfg.proxy_from_n, 0);
	ck_assert_int_eq(check_conf_fresh(&cfg, "--proxy-protocol",
	    "--proxy-from", "10.0.0.0/8,::1", "--proxy-from", "127.0.0.1",
	    NULL), CONF_RUN);
	ck_assert_int_eq(cfg.proxy_from_n, 3);
	ck_assert_int_eq(cfg.proxy_from[0].bits, 8);
	ck_assert_int_eq(cfg.proxy_from[1].family, AF_INET6);
	ck_assert_int_eq(cfg.proxy_from[1].bits, 128);
	ck_assert_int_eq(cfg.proxy_from[2].bits, 32);
	/* the order of the flags does not matter */
	ck_assert_int_eq(check_conf_fresh(&cfg, "--proxy-from", "::/0",
	    "--proxy-protocol", NULL), CONF_RUN);
	check_conf_assert_error(check_conf_fresh(&cfg, "--proxy-from",
	    "10.0.0.0/8", NULL), "--proxy-from: ", "(allowed: with "
	    "--proxy-protocol)", "without --proxy-protocol");
	for (i = 0; i < nitems(bad); i++)
		check_conf_assert_error(check_conf_fresh(&cfg,
		    "--proxy-protocol", "--proxy-from", bad[i], NULL),
		    "--proxy-from: ", "is not an address range (allowed: ",
		    bad[i]);
	/* ACKD_PROXY_FROM_MAX ranges, then one more */
	many[0] = '\0';
	for (i = 0; i < ACKD_PROXY_FROM_MAX; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many),
		    "%s10.0.%zu.0/24", i ? "," : "", i);
	ck_assert_msg(check_conf_fresh(&cfg, "--proxy-protocol",
	    "--proxy-from", many, NULL) == CONF_RUN, "%s", check_conf_err);
	ck_assert_int_eq(cfg.proxy_from_n, ACKD_PROXY_FROM_MAX);
	check_conf_assert_error(check_conf_fresh(&cfg, "--proxy-protocol",
	    "--proxy-from", many, "--proxy-from", "::1", NULL),
	    "--proxy-from: ", "ranges (allowed: up to", "one too many");
}
END_TEST

/* Would conf_allowed let the address a in? */
static int
check_conf_lets_in(const struct ackd_config *cfg, const char *a)
{
	struct sockaddr_storage	ss;
	socklen_t		sslen;

	ck_assert_msg(addr_parse(a, 80, &ss, &sslen) == 0, "'%s'", a);
	return (conf_allowed(cfg, (struct sockaddr *)&ss, sslen));
}

#ifdef HAVE_TLS
/*
 * The TLS flags: off by default; --tls-port with --tls-cert sets the
 * key to the certificate's file and the version to 1.2; every value is
 * kept as given.
 */
START_TEST(check_conf_tls)
{
	struct ackd_config	cfg;

	ck_assert_int_eq(check_conf_fresh(&cfg, NULL), CONF_RUN);
	ck_assert_int_eq(cfg.tls_port, -1);
	ck_assert_int_eq(cfg.tls_only, 0);
	ck_assert_ptr_null(cfg.tls_cert);
	ck_assert_ptr_null(cfg.tls_key);
	ck_assert_ptr_null(cfg.tls_client_ca);
	ck_assert_str_eq(cfg.tls_ciphers, "ECDHE+AESGCM:ECDHE+CHACHA20");
	ck_assert_str_eq(cfg.tls_ciphersuites, "TLS_AES_128_GCM_SHA256:"
	    "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256");
	ck_assert_msg(check_conf_fresh(&cfg, "--tls-port", "0", "--tls-cert",
	    "both.pem", NULL) == CONF_RUN, "%s", check_conf_err);
	ck_assert_int_eq(cfg.tls_port, 0);
	ck_assert_str_eq(cfg.tls_cert, "both.pem");
	ck_assert_str_eq(cfg.tls_key, "both.pem");
	ck_assert_int_eq(cfg.tls_min_version, 12);
	/* --tls-only: --port is unused, so it may be the same */
	ck_assert_msg(check_conf_fresh(&cfg, "--tls-port=8443", "--tls-only",
	    "--tls-cert", "c.pem", "--port", "8443", NULL) == CONF_RUN, "%s",
	    check_conf_err);
	ck_assert_int_eq(cfg.tls_port, 8443);
	ck_assert_int_eq(cfg.tls_only, 1);
	ck_assert_msg(check_conf_fresh(&cfg, "--tls-port=8443",
	    "--tls-cert", "c.pem", "--tls-key", "k.pem", "--tls-client-ca",
	    "ca.pem", "--tls-min-version", "1.3", "--tls-ciphers",
	    "ECDHE+AESGCM", "--tls-ciphersuites", "TLS_AES_256_GCM_SHA384",
	    NULL) == CONF_RUN, "%s", check_conf_err);
	ck_assert_int_eq(cfg.tls_only, 0);
	ck_assert_str_eq(cfg.tls_key, "k.pem");
	ck_assert_str_eq(cfg.tls_client_ca, "ca.pem");
	ck_assert_int_eq(cfg.tls_min_version, 13);
	ck_assert_str_eq(cfg.tls_ciphers, "ECDHE+AESGCM");
	ck_assert_str_eq(cfg.tls_ciphersuites, "TLS_AES_256_GCM_SHA384");
}
END_TEST

/*
 * What the TLS flags refuse: --tls-port without a certificate, every
 * other TLS flag without --tls-port (even one that says the default),
 * --tls-port on --port's port, versions but 1.2 and 1.3, empty values.
 */
START_TEST(check_conf_tls_errors)
{
	static const char	*lone[][2] = { { "--tls-only", NULL },
	    { "--tls-cert", "c.pem" }, { "--tls-key", "k.pem" },
	    { "--tls-client-ca", "ca.pem" }, { "--tls-min-version", "1.2" },
	    { "--tls-ciphers", ACKD_TLS_CIPHERS },
	    { "--tls-ciphersuites", "TLS_AES_128_GCM_SHA256" } };
	static const char	*versions[] = { "1.1", "1.0", "1", "1.4", "1.2 ",
	    "TLSv1.2", "" };
	struct ackd_config	cfg;
	char			prefix[64];
	size_t			i;

	check_conf_assert_error(check_conf_fresh(&cfg, "--tls-port", "0",
	    NULL), "--tls-port: ", "(allowed: with --tls-cert FILE)",
	    "no certificate");
	for (i = 0; i < nitems(lone); i++) {
		snprintf(prefix, sizeof(prefix), "%s: ", lone[i][0]);
		check_conf_assert_error(check_conf_fresh(&cfg, lone[i][0],
		    lone[i][1], NULL), prefix, "(allowed: with --tls-port N)",
		    lone[i][0]);
	}
	check_conf_assert_error(check_conf_fresh(&cfg, "--port", "7000",
	    "--tls-port", "7000", "--tls-cert", "c.pem", NULL),
	    "--tls-port: 7000 is --port's", "allowed: another port", "same");
	for (i = 0; i < nitems(versions); i++)
		check_conf_assert_error(check_conf_fresh(&cfg, "--tls-port",
		    "0", "--tls-cert", "c.pem", "--tls-min-version",
		    versions[i], NULL), "--tls-min-version: ",
		    "(allowed: 1.2, 1.3)", versions[i]);
	check_conf_assert_error(check_conf_fresh(&cfg, "--tls-port", "0",
	    "--tls-cert", "", NULL), "--tls-cert: ", "empty path", "empty");
	check_conf_assert_error(check_conf_fresh(&cfg, "--tls-port", "0",
	    "--tls-cert", "c.pem", "--tls-ciphers", "", NULL),
	    "--tls-ciphers: ", "(allowed: 1-1024 bytes)", "empty list");
	check_conf_assert_error(check_conf_fresh(&cfg, "--tls-port", "65536",
	    NULL), "--tls-port: ", "(allowed: 0-65535)", "range");
}
END_TEST
#else
/* A build without TLS refuses every TLS flag with one line. */
START_TEST(check_conf_tls)
{
	static const char	*flags[][2] = { { "--tls-port", "1" },
	    { "--tls-only", NULL }, { "--tls-cert", "c.pem" },
	    { "--tls-key", "k.pem" }, { "--tls-client-ca", "ca.pem" },
	    { "--tls-min-version", "1.2" }, { "--tls-ciphers", "x" },
	    { "--tls-ciphersuites", "x" } };
	struct ackd_config	cfg;
	char			want[128];
	size_t			i;

	for (i = 0; i < nitems(flags); i++) {
		snprintf(want, sizeof(want), "%s: this build has no TLS "
		    "(configure --with-tls)", flags[i][0]);
		ck_assert_int_eq(check_conf_fresh(&cfg, flags[i][0],
		    flags[i][1], NULL), CONF_ERROR);
		ck_assert_str_eq(check_conf_err, want);
	}
}
END_TEST
#endif

/*
 * --allow adds ranges, repeated or comma-separated, up to ACKD_ALLOW_MAX,
 * with or without --proxy-protocol; without it, everyone is let in.
 */
START_TEST(check_conf_allow)
{
	static const char	*bad[] = { "", ",", "10.0.0.0/8,", ",::1",
	    "10.0.0.0/33", "localhost", "10.0.0.0/8 ::1", "::1/129", "[::1]",
	    "127.0.0.1:80" };
	struct ackd_config	cfg;
	char			many[ACKD_ALLOW_MAX * 16], want[64];
	size_t			i;

	ck_assert_int_eq(check_conf_fresh(&cfg, NULL), CONF_RUN);
	ck_assert_int_eq(cfg.allow_n, 0);
	ck_assert(check_conf_lets_in(&cfg, "203.0.113.1"));
	ck_assert(check_conf_lets_in(&cfg, "2001:db8::1"));
	ck_assert_msg(check_conf_fresh(&cfg, "--allow", "10.0.0.0/8,::1",
	    "--allow", "192.168.1.7", NULL) == CONF_RUN, "%s",
	    check_conf_err);
	ck_assert_int_eq(cfg.allow_n, 3);
	ck_assert_int_eq(cfg.proxy_from_n, 0);
	ck_assert(check_conf_lets_in(&cfg, "10.200.3.4"));
	ck_assert(check_conf_lets_in(&cfg, "::1"));
	ck_assert(check_conf_lets_in(&cfg, "192.168.1.7"));
	ck_assert(!check_conf_lets_in(&cfg, "192.168.1.8"));
	ck_assert(!check_conf_lets_in(&cfg, "11.0.0.1"));
	ck_assert(!check_conf_lets_in(&cfg, "::2"));
	/* an IPv4 client on a dual-stack (::) listener */
	ck_assert(check_conf_lets_in(&cfg, "::ffff:10.1.2.3"));
	ck_assert(!check_conf_lets_in(&cfg, "::ffff:11.1.2.3"));
	/* with --proxy-protocol and --proxy-from: lists of their own */
	ck_assert_int_eq(check_conf_fresh(&cfg, "--proxy-protocol",
	    "--proxy-from", "127.0.0.1", "--allow", "::/0", NULL), CONF_RUN);
	ck_assert_int_eq(cfg.allow_n, 1);
	ck_assert_int_eq(cfg.allow[0].family, AF_INET6);
	ck_assert_int_eq(cfg.proxy_from_n, 1);
	ck_assert_int_eq(cfg.proxy_from[0].family, AF_INET);
	for (i = 0; i < nitems(bad); i++)
		check_conf_assert_error(check_conf_fresh(&cfg, "--allow",
		    bad[i], NULL), "--allow: ", "is not an address range "
		    "(allowed: ", bad[i]);
	/* ACKD_ALLOW_MAX ranges over two flags, then one more */
	many[0] = '\0';
	for (i = 0; i + 1 < ACKD_ALLOW_MAX; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many),
		    "%s10.%zu.%zu.0/24", i ? "," : "", i / 256, i % 256);
	ck_assert_msg(check_conf_fresh(&cfg, "--allow", many, "--allow",
	    "::1", NULL) == CONF_RUN, "%s", check_conf_err);
	ck_assert_int_eq(cfg.allow_n, ACKD_ALLOW_MAX);
	snprintf(want, sizeof(want), "(allowed: up to %d, all --allow "
	    "together)", ACKD_ALLOW_MAX);
	check_conf_assert_error(check_conf_fresh(&cfg, "--allow", many,
	    "--allow", "::1,::2", NULL), "--allow: ", want, "one too many");
}
END_TEST

/* Each numeric flag, in each of its forms, sets its field. */
START_TEST(check_conf_num_forms)
{
	struct ackd_config	cfg;
	char			lng[64], shrt[64], joined[128];
	const char		*name = check_conf_nums[_i].name;
	const char		*value = check_conf_nums[_i].value;
	long long		want = check_conf_nums[_i].want;

	snprintf(lng, sizeof(lng), "--%s", name);
	snprintf(joined, sizeof(joined), "--%s=%s", name, value);
	ck_assert_msg(check_conf_fresh(&cfg, lng, value, NULL) == CONF_RUN,
	    "%s %s: %s", lng, value, check_conf_err);
	ck_assert_msg(check_conf_field(&cfg, _i) == want, "%s %s -> %lld, "
	    "want %lld", lng, value, check_conf_field(&cfg, _i), want);
	ck_assert_msg(check_conf_fresh(&cfg, joined, NULL) == CONF_RUN,
	    "%s: %s", joined, check_conf_err);
	ck_assert_msg(check_conf_field(&cfg, _i) == want, "%s -> %lld",
	    joined, check_conf_field(&cfg, _i));
	if (check_conf_nums[_i].letter == 0)
		return;
	snprintf(shrt, sizeof(shrt), "-%c", check_conf_nums[_i].letter);
	ck_assert_msg(check_conf_fresh(&cfg, shrt, value, NULL) == CONF_RUN,
	    "%s %s: %s", shrt, value, check_conf_err);
	ck_assert_msg(check_conf_field(&cfg, _i) == want, "%s %s -> %lld",
	    shrt, value, check_conf_field(&cfg, _i));
	snprintf(joined, sizeof(joined), "-%c%s", check_conf_nums[_i].letter,
	    value);
	ck_assert_msg(check_conf_fresh(&cfg, joined, NULL) == CONF_RUN,
	    "%s: %s", joined, check_conf_err);
	ck_assert_msg(check_conf_field(&cfg, _i) == want, "%s -> %lld",
	    joined, check_conf_field(&cfg, _i));
}
END_TEST

/* Each numeric flag takes its limits and refuses one step past each. */
START_TEST(check_conf_num_limits)
{
	struct ackd_config	cfg, def;
	char			flag[64], val[64], prefix[80];
	long long		min = check_conf_nums[_i].min;
	long long		max = check_conf_nums[_i].max;
	/* one unit past a limit: 1, or 1 ms for the durations */
	long long		past[2] = { min - 1, max + 1 };
	long long		lim[2] = { min, max };
	int			k;

	conf_defaults(&def);
	snprintf(flag, sizeof(flag), "--%s", check_conf_nums[_i].name);
	snprintf(prefix, sizeof(prefix), "%s: ", flag);
	for (k = 0; k < 2; k++) {
		check_conf_value(_i, lim[k], val, sizeof(val));
		ck_assert_msg(check_conf_fresh(&cfg, flag, val, NULL) ==
		    CONF_RUN, "%s %s refused: %s", flag, val,
		    check_conf_err);
		ck_assert_msg(check_conf_field(&cfg, _i) == lim[k],
		    "%s %s -> %lld", flag, val, check_conf_field(&cfg, _i));

		check_conf_value(_i, past[k], val, sizeof(val));
		check_conf_assert_error(check_conf_fresh(&cfg, flag, val,
		    NULL), prefix, "out of range", val);
		ck_assert_msg(strstr(check_conf_err, val) != NULL,
		    "error '%s' does not quote '%s'", check_conf_err, val);
		ck_assert_msg(check_conf_field(&cfg, _i) ==
		    check_conf_field(&def, _i), "refused %s %s changed it",
		    flag, val);
	}
	/* far out of range saturates instead of wrapping into range */
	check_conf_assert_error(check_conf_fresh(&cfg, flag,
	    "99999999999999999999999", NULL), prefix, "out of range", "huge");
	check_conf_assert_error(check_conf_fresh(&cfg, flag,
	    "-99999999999999999999999", NULL), prefix, "out of range",
	    "-huge");
	check_conf_assert_error(check_conf_fresh(&cfg, flag,
	    "18446744073709553616", NULL), prefix, "out of range", "2^64+k");
}
END_TEST

/* Each numeric flag refuses what is not a number, naming itself. */
START_TEST(check_conf_num_not_a_number)
{
	static const char	*bad_int[] = { "", "abc", "12abc", "1.5", "+5",
	    " 5", "5 ", "0x10", "-", "1e3", "--1", "1,000" };
	static const char	*bad_sec[] = { "", "abc", "1s", "+1", " 1",
	    "1 ", "1e3", "0x10", "-", ".", "1.2.3", "1,5", "--1", "-.", "5m" };
	struct ackd_config	cfg, def;
	const char		**bad;
	char			flag[64], prefix[80], what[96];
	size_t			n, k;

	conf_defaults(&def);
	snprintf(flag, sizeof(flag), "--%s", check_conf_nums[_i].name);
	snprintf(prefix, sizeof(prefix), "%s: ", flag);
	if (check_conf_nums[_i].kind == CHECK_CONF_MSEC) {
		bad = bad_sec;
		n = nitems(bad_sec);
	} else {
		bad = bad_int;
		n = nitems(bad_int);
	}
	for (k = 0; k < n; k++) {
		snprintf(what, sizeof(what), "'%s' is not a number", bad[k]);
		check_conf_assert_error(check_conf_fresh(&cfg, flag, bad[k],
		    NULL), prefix, what, bad[k]);
		ck_assert_msg(check_conf_field(&cfg, _i) ==
		    check_conf_field(&def, _i), "%s '%s' changed it", flag,
		    bad[k]);
	}
}
END_TEST

/* Durations are decimal seconds, kept to the millisecond. */
START_TEST(check_conf_seconds_to_ms)
{
	static const struct {
		const char	*arg;
		int		 ms;
	} t[] = {
		{ "2.5", 2500 }, { "0.5", 500 }, { ".5", 500 }, { "1.", 1000 },
		{ "10", 10000 }, { "0.001", 1 }, { "1.2345", 1234 },
		{ "1.999999", 1999 }, { "007", 7000 }, { "0.010", 10 },
		{ "86400", 86400000 }, { "86400.000", 86400000 },
	};
	struct ackd_config	cfg;
	size_t			i;

	for (i = 0; i < nitems(t); i++) {
		ck_assert_msg(check_conf_fresh(&cfg, "--read-timeout",
		    t[i].arg, NULL) == CONF_RUN, "--read-timeout %s: %s",
		    t[i].arg, check_conf_err);
		ck_assert_msg(cfg.read_timeout_ms == t[i].ms,
		    "--read-timeout %s -> %d ms, want %d", t[i].arg,
		    cfg.read_timeout_ms, t[i].ms);
		ck_assert_msg(check_conf_fresh(&cfg, "--shutdown-timeout",
		    t[i].arg, NULL) == CONF_RUN, "--shutdown-timeout %s: %s",
		    t[i].arg, check_conf_err);
		ck_assert_msg(cfg.shutdown_timeout_ms == t[i].ms,
		    "--shutdown-timeout %s -> %d ms, want %d", t[i].arg,
		    cfg.shutdown_timeout_ms, t[i].ms);
	}
	/* under a millisecond is 0 ms: too short to read, fine to stop */
	check_conf_assert_error(check_conf_fresh(&cfg, "-r", "0.0009",
	    NULL), "--read-timeout: ", "out of range", "-r 0.0009");
	ck_assert_int_eq(check_conf_fresh(&cfg, "--shutdown-timeout", "0",
	    NULL), CONF_RUN);
	ck_assert_int_eq(cfg.shutdown_timeout_ms, 0);
}
END_TEST

START_TEST(check_conf_bind)
{
	static const char	*good[] = { "127.0.0.1", "::1", "::",
	    "2001:db8::1", "0.0.0.0", "::ffff:192.0.2.1", "localhost",
	    "example.com", "garbage" };
	static const char	*bad[] = { "", "1.2.3.4.5", "256.0.0.1",
	    "::1::", "[::1]", "127.0.0.1:80", " 127.0.0.1", "127.0.0.1 ",
	    "a..b", "a/b" };
	struct ackd_config	cfg;
	char			what[300], longest[ACKD_HOST_MAX + 2];
	size_t			i;

	for (i = 0; i < nitems(good); i++) {
		ck_assert_msg(check_conf_fresh(&cfg, "--bind", good[i],
		    NULL) == CONF_RUN, "--bind %s: %s", good[i],
		    check_conf_err);
		ck_assert_int_eq(cfg.nbind, 1);
		ck_assert_str_eq(cfg.bind[0], good[i]);
	}
	ck_assert_int_eq(check_conf_fresh(&cfg, "-b", "10.1.2.3", NULL),
	    CONF_RUN);
	ck_assert_str_eq(cfg.bind[0], "10.1.2.3");
	ck_assert_int_eq(check_conf_fresh(&cfg, "-b::1", NULL), CONF_RUN);
	ck_assert_str_eq(cfg.bind[0], "::1");
	for (i = 0; i < nitems(bad); i++) {
		snprintf(what, sizeof(what), "'%s' is not an IPv4 or IPv6 "
		    "address or a host name", bad[i]);
		check_conf_assert_error(check_conf_fresh(&cfg, "--bind",
		    bad[i], NULL), "--bind: ", what, bad[i]);
		ck_assert_str_eq(cfg.bind[0], "0.0.0.0");
	}

	/* a name must also fit the field: ACKD_HOST_MAX characters do */
	memset(longest, 'a', sizeof(longest));
	longest[ACKD_HOST_MAX] = '\0';
	ck_assert_msg(check_conf_fresh(&cfg, "--bind", longest, NULL) ==
	    CONF_RUN, "--bind %s: %s", longest, check_conf_err);
	ck_assert_str_eq(cfg.bind[0], longest);
	longest[ACKD_HOST_MAX] = 'a';
	longest[ACKD_HOST_MAX + 1] = '\0';
	check_conf_assert_error(check_conf_fresh(&cfg, "--bind", longest,
	    NULL), "--bind: ", "256 bytes is too long (allowed: 1-255)",
	    "256 characters");
	ck_assert_str_eq(cfg.bind[0], "0.0.0.0");
}
END_TEST

/* --bind again adds a listener; the first replaces the default. */
START_TEST(check_conf_bind_repeated)
{
	struct ackd_config	cfg;
	char			a0[] = "ackd", flag[] = "--bind";
	char			addrs[ACKD_LISTEN_MAX + 1][32];
	char			*argv[2 * (ACKD_LISTEN_MAX + 1) + 2];
	int			i, argc = 1;

	ck_assert_int_eq(check_conf_fresh(&cfg, NULL), CONF_RUN);
	ck_assert_int_eq(cfg.nbind, 1);
	ck_assert_str_eq(cfg.bind[0], "0.0.0.0");
	ck_assert_int_eq(check_conf_fresh(&cfg, "--bind", "127.0.0.1",
	    "-b", "::1", "--bind=localhost", NULL), CONF_RUN);
	ck_assert_int_eq(cfg.nbind, 3);
	ck_assert_str_eq(cfg.bind[0], "127.0.0.1");
	ck_assert_str_eq(cfg.bind[1], "::1");
	ck_assert_str_eq(cfg.bind[2], "localhost");
	/* parsing on top of an earlier result adds to it */
	ck_assert_int_eq(check_conf_parse(&cfg, "-b", "10.0.0.1", NULL),
	    CONF_RUN);
	ck_assert_int_eq(cfg.nbind, 4);
	ck_assert_str_eq(cfg.bind[3], "10.0.0.1");

	/* ACKD_LISTEN_MAX flags are fine, one more is refused by name */
	argv[0] = a0;
	for (i = 0; i <= ACKD_LISTEN_MAX; i++) {
		snprintf(addrs[i], sizeof(addrs[i]), "10.0.0.%d", i + 1);
		argv[argc++] = flag;
		argv[argc++] = addrs[i];
	}
	argv[argc] = NULL;
	conf_defaults(&cfg);
	ck_assert_int_eq(conf_parse(&cfg, argc - 2, argv, check_conf_err,
	    sizeof(check_conf_err)), CONF_RUN);
	ck_assert_int_eq(cfg.nbind, ACKD_LISTEN_MAX);
	ck_assert_str_eq(cfg.bind[ACKD_LISTEN_MAX - 1], "10.0.0.16");
	conf_defaults(&cfg);
	check_conf_assert_error(conf_parse(&cfg, argc, argv,
	    check_conf_err, sizeof(check_conf_err)), "--bind: ",
	    "'10.0.0.17' is one address too many (allowed: 1-16 --bind flags)",
	    "17 --bind");
}
END_TEST

/* --ipv6-only and --reuseport are switches, off by default. */
START_TEST(check_conf_listen_switches)
{
	struct ackd_config	cfg;

	ck_assert_int_eq(check_conf_fresh(&cfg, NULL), CONF_RUN);
	ck_assert_int_eq(cfg.ipv6_only, 0);
	ck_assert_int_eq(cfg.reuseport, 0);
	ck_assert_int_eq(check_conf_fresh(&cfg, "--ipv6-only", NULL),
	    CONF_RUN);
	ck_assert_int_eq(cfg.ipv6_only, 1);
	check_conf_assert_error(check_conf_fresh(&cfg, "--ipv6-only=1",
	    NULL), "unknown option '--ipv6-only=1'", "", "--ipv6-only=1");
#ifdef ACKD_REUSEPORT_OPT
	ck_assert_int_eq(check_conf_fresh(&cfg, "--reuseport", NULL),
	    CONF_RUN);
	ck_assert_int_eq(cfg.reuseport, 1);
#else
	check_conf_assert_error(check_conf_fresh(&cfg, "--reuseport",
	    NULL), "--reuseport: ", "no SO_REUSEPORT", "--reuseport");
#endif
}
END_TEST

START_TEST(check_conf_ack)
{
	struct ackd_config	cfg;
	char			big[ACKD_ACK_MAX + 2];

	ck_assert_int_eq(check_conf_fresh(&cfg, "--ack", "OK", NULL),
	    CONF_RUN);
	ck_assert_str_eq(cfg.ack, "OK");
	ck_assert_uint_eq(cfg.ack_len, 2);
	ck_assert_int_eq(check_conf_fresh(&cfg, "-a", "got it\r\n", NULL),
	    CONF_RUN);
	ck_assert_str_eq(cfg.ack, "got it\r\n");
	ck_assert_uint_eq(cfg.ack_len, 8);
	ck_assert_int_eq(check_conf_fresh(&cfg, "--ack=x", NULL), CONF_RUN);
	ck_assert_str_eq(cfg.ack, "x");
	ck_assert_uint_eq(cfg.ack_len, 1);

	memset(big, 'y', ACKD_ACK_MAX);
	big[ACKD_ACK_MAX] = '\0';
	ck_assert_int_eq(check_conf_fresh(&cfg, "-a", big, NULL), CONF_RUN);
	ck_assert_uint_eq(cfg.ack_len, ACKD_ACK_MAX);
	ck_assert_str_eq(cfg.ack, big);

	big[ACKD_ACK_MAX] = 'y';
	big[ACKD_ACK_MAX + 1] = '\0';
	check_conf_assert_error(check_conf_fresh(&cfg, "--ack", big, NULL),
	    "--ack: ", "too long", "1025 bytes");
	ck_assert_str_eq(cfg.ack, "ACK!");
	ck_assert_uint_eq(cfg.ack_len, 4);
	check_conf_assert_error(check_conf_fresh(&cfg, "--ack", "", NULL),
	    "--ack: ", "empty", "no bytes");
	ck_assert_str_eq(cfg.ack, "ACK!");
}
END_TEST

START_TEST(check_conf_log_file)
{
	struct ackd_config	cfg;

	ck_assert_int_eq(check_conf_fresh(&cfg, "--log-file", "/tmp/a.log",
	    NULL), CONF_RUN);
	ck_assert_ptr_nonnull(cfg.log_file);
	ck_assert_str_eq(cfg.log_file, "/tmp/a.log");
	ck_assert_int_eq(check_conf_fresh(&cfg, "-l", "b.log", NULL),
	    CONF_RUN);
	ck_assert_pstr_eq(cfg.log_file, "b.log");
	ck_assert_int_eq(check_conf_fresh(&cfg, "-l", "b.log", "-l", "-",
	    NULL), CONF_RUN);
	ck_assert_msg(cfg.log_file == NULL, "--log-file - is not stdout");
	check_conf_assert_error(check_conf_fresh(&cfg, "--log-file", "",
	    NULL), "--log-file: ", "empty path", "empty");
	ck_assert_ptr_null(cfg.log_file);
}
END_TEST

START_TEST(check_conf_log_format)
{
	static const char	*bad[] = { "xml", "", "JSON", "Text", "text ",
	    "jsonl" };
	struct ackd_config	cfg;
	char			what[64];
	size_t			i;

	ck_assert_int_eq(check_conf_fresh(&cfg, "--log-format", "json",
	    NULL), CONF_RUN);
	ck_assert_int_eq(cfg.log_format, ACKD_LOG_JSON);
	ck_assert_int_eq(check_conf_fresh(&cfg, "-f", "json", "-f", "text",
	    NULL), CONF_RUN);
	ck_assert_int_eq(cfg.log_format, ACKD_LOG_TEXT);
	ck_assert_int_eq(check_conf_fresh(&cfg, "-fjson", NULL), CONF_RUN);
	ck_assert_int_eq(cfg.log_format, ACKD_LOG_JSON);
	ck_assert_int_eq(check_conf_fresh(&cfg, "--log-format=text", NULL),
	    CONF_RUN);
	ck_assert_int_eq(cfg.log_format, ACKD_LOG_TEXT);
	for (i = 0; i < nitems(bad); i++) {
		snprintf(what, sizeof(what), "'%s' is not allowed (allowed: "
		    "text, json)", bad[i]);
		check_conf_assert_error(check_conf_fresh(&cfg,
		    "--log-format", bad[i], NULL), "--log-format: ", what,
		    bad[i]);
		ck_assert_int_eq(cfg.log_format, ACKD_LOG_TEXT);
	}
}
END_TEST

START_TEST(check_conf_framing)
{
	static const char	*bad[] = { "", "Line", "lines", "newline",
	    "EOF", "read " };
	struct ackd_config	cfg;
	char			what[64];
	size_t			i;

	conf_defaults(&cfg);
	ck_assert_int_eq(cfg.framing, ACKD_FRAMING_READ);
	ck_assert_int_eq(check_conf_fresh(&cfg, "--framing", "line", NULL),
	    CONF_RUN);
	ck_assert_int_eq(cfg.framing, ACKD_FRAMING_LINE);
	ck_assert_int_eq(check_conf_fresh(&cfg, "--framing=eof", NULL),
	    CONF_RUN);
	ck_assert_int_eq(cfg.framing, ACKD_FRAMING_EOF);
	ck_assert_int_eq(check_conf_fresh(&cfg, "--framing", "eof",
	    "--framing", "read", NULL), CONF_RUN);
	ck_assert_int_eq(cfg.framing, ACKD_FRAMING_READ);
	for (i = 0; i < nitems(bad); i++) {
		snprintf(what, sizeof(what), "'%s' is not allowed (allowed: "
		    "read, line, eof)", bad[i]);
		check_conf_assert_error(check_conf_fresh(&cfg,
		    "--framing", bad[i], NULL), "--framing: ", what, bad[i]);
	}
}
END_TEST

START_TEST(check_conf_log_tag)
{
	static const char	*bad[] = { "", "a b", "eu1\n", "tag=x", "a/b",
	    "\"q\"", "caf\xc3\xa9", "123456789012345678901234567890123" };
	struct ackd_config	cfg;
	size_t			i;

	conf_defaults(&cfg);
	ck_assert_ptr_null(cfg.log_tag);
	ck_assert_int_eq(check_conf_fresh(&cfg, "--log-tag", "eu1", NULL),
	    CONF_RUN);
	ck_assert_str_eq(cfg.log_tag, "eu1");
	ck_assert_int_eq(check_conf_fresh(&cfg, "--log-tag",
	    "A.z_0-9", NULL), CONF_RUN);
	ck_assert_str_eq(cfg.log_tag, "A.z_0-9");
	ck_assert_int_eq(check_conf_fresh(&cfg, "--log-tag",
	    "12345678901234567890123456789012", NULL), CONF_RUN);
	ck_assert_uint_eq(strlen(cfg.log_tag), ACKD_TAG_MAX);
	for (i = 0; i < nitems(bad); i++)
		check_conf_assert_error(check_conf_fresh(&cfg,
		    "--log-tag", bad[i], NULL), "--log-tag: ",
		    "is not a tag (allowed: 1-32 bytes of A-Z a-z 0-9 . _ -)",
		    bad[i]);
}
END_TEST

START_TEST(check_conf_syslog)
{
	static const struct {
		const char	*arg;
		int		 want;
	} good[] = {
		{ "--syslog", LOG_DAEMON }, { "--syslog=daemon", LOG_DAEMON },
		{ "--syslog=user", LOG_USER }, { "--syslog=local0", LOG_LOCAL0 },
		{ "--syslog=local7", LOG_LOCAL7 },
	};
	static const char	*bad[] = { "--syslog=", "--syslog=kern",
	    "--syslog=local8", "--syslog=DAEMON", "--syslog=auth" };
	struct ackd_config	cfg;
	size_t			i;

	conf_defaults(&cfg);
	ck_assert_int_eq(cfg.syslog_facility, 0);
	for (i = 0; i < nitems(good); i++) {
		ck_assert_int_eq(check_conf_fresh(&cfg, good[i].arg, NULL),
		    CONF_RUN);
		ck_assert_int_eq(cfg.syslog_facility, good[i].want);
	}
	for (i = 0; i < nitems(bad); i++)
		check_conf_assert_error(check_conf_fresh(&cfg, bad[i],
		    NULL), "--syslog: ", "is not a facility (allowed: daemon, "
		    "user, local0-local7)", bad[i]);
	check_conf_assert_error(check_conf_fresh(&cfg, "--syslog",
	    "local0", NULL), "--syslog: ", "'local0' is a separate word",
	    "two words");
	/* one log only, in either order, - included */
	check_conf_assert_error(check_conf_fresh(&cfg, "--syslog",
	    "--log-file", "x", NULL), "--syslog: ", "with --log-file", "a");
	check_conf_assert_error(check_conf_fresh(&cfg, "--log-file", "-",
	    "--syslog=user", NULL), "--syslog: ", "with --log-file", "b");
	check_conf_assert_error(check_conf_fresh(&cfg, "--syslog",
	    "--sync", NULL), "--sync: ", "with --syslog", "sync");
	/* a daemon may log to syslog instead of a file */
	ck_assert_int_eq(check_conf_fresh(&cfg, "--daemon", "--syslog",
	    NULL), CONF_RUN);
}
END_TEST

/* The largest --max-message that --syslog conf_check takes; -1 if none. */
static long
check_conf_syslog_fit(const char *fmt, const char *max, const char *tag,
    int proxy)
{
	struct ackd_config	cfg;
	const char		*p;

	conf_defaults(&cfg);
	if (check_conf_parse(&cfg, "--syslog", "-f", fmt, "--syslog-max", max,
	    "--log-tag", tag, "-m", "1048576", proxy ? "--proxy-protocol" :
	    NULL, NULL) != CONF_ERROR || (p = strstr(check_conf_err,
	    "up to ")) == NULL)
		return (-1);
	return (strtol(p + 6, NULL, 10));
}

/*
 * --syslog-max: the default with --syslog, its range, nothing without
 * --syslog; a --max-message that cannot fit is refused naming both flags
 * and the largest that fits, which is then taken, one more refused.
 */
START_TEST(check_conf_syslog_max)
{
	static const char *const	fmts[] = { "text", "json" };
	static const char *const	maxes[] = { "480", "8192", "65536" };
	static const char		tag[] = "12345678901234567890123456789012";
	struct ackd_config		cfg;
	char				m[32], m1[32], warn[512];
	long				fit;
	int				i, j, proxy;

	ck_assert_int_eq(check_conf_fresh(&cfg, "--syslog", NULL), CONF_RUN);
	ck_assert_uint_eq(cfg.syslog_max, ACKD_SYSLOG_MAX_DEFAULT);
	ck_assert_int_eq(check_conf_fresh(&cfg, NULL), CONF_RUN);
	ck_assert_uint_eq(cfg.syslog_max, 0);
	ck_assert_int_eq(check_conf_fresh(&cfg, "--syslog", "-m", "100",
	    "--syslog-max", "480", NULL), CONF_RUN);
	ck_assert_uint_eq(cfg.syslog_max, 480);
	ck_assert_int_eq(check_conf_fresh(&cfg, "--syslog", "--syslog-max",
	    "16777216", NULL), CONF_RUN);
	check_conf_assert_error(check_conf_fresh(&cfg, "--syslog",
	    "--syslog-max", "479", NULL), "--syslog-max: ",
	    "out of range (allowed: 480-16777216)", "479");
	check_conf_assert_error(check_conf_fresh(&cfg, "--syslog",
	    "--syslog-max", "16777217", NULL), "--syslog-max: ",
	    "out of range (allowed: 480-16777216)", "16777217");
	check_conf_assert_error(check_conf_fresh(&cfg, "--syslog-max",
	    "9000", NULL), "--syslog-max: ", "(allowed: with --syslog)",
	    "without --syslog");
	check_conf_assert_error(check_conf_fresh(&cfg, "--syslog=local3",
	    "-m", "20000", "--framing", "eof", NULL), "--max-message: ",
	    "20000 bytes cannot fit in one syslog datagram of --syslog-max "
	    "8192 bytes", "the issue's case");
	for (i = 0; i < 2; i++)
		for (j = 0; j < 3; j++)
			for (proxy = 0; proxy < 2; proxy++) {
				fit = check_conf_syslog_fit(fmts[i], maxes[j],
				    tag, proxy);
				ck_assert_msg(fit > 0 && fit < atol(maxes[j]),
				    "%s %s: fit %ld", fmts[i], maxes[j], fit);
				snprintf(m, sizeof(m), "%ld", fit);
				snprintf(m1, sizeof(m1), "%ld", fit + 1);
				ck_assert_int_eq(check_conf_fresh(&cfg,
				    "--syslog", "-f", fmts[i], "--syslog-max",
				    maxes[j], "-m", m, "--log-tag", tag,
				    proxy ? "--proxy-protocol" : NULL, NULL),
				    CONF_RUN);
				ck_assert_int_eq(check_conf_fresh(&cfg,
				    "--syslog", "-f", fmts[i], "--syslog-max",
				    maxes[j], "-m", m1, "--log-tag", tag,
				    proxy ? "--proxy-protocol" : NULL, NULL),
				    CONF_ERROR);
			}
	/* the default -m 1024 fits with room to escape; -m 2000 in JSON not */
	ck_assert_int_eq(check_conf_fresh(&cfg, "--syslog", "-f", "json",
	    NULL), CONF_RUN);
	ck_assert_int_eq(conf_syslog_warning(&cfg, warn, sizeof(warn)), 0);
	ck_assert_int_eq(check_conf_fresh(&cfg, "--syslog", "-f", "json",
	    "-m", "2000", NULL), CONF_RUN);
	ck_assert_int_eq(conf_syslog_warning(&cfg, warn, sizeof(warn)), 1);
	ck_assert_msg(strstr(warn, "--syslog-max 8192") != NULL &&
	    strstr(warn, "--max-message 2000") != NULL, "warning: %s", warn);
	ck_assert_int_eq(check_conf_fresh(&cfg, "-m", "2000", NULL),
	    CONF_RUN);
	ck_assert_int_eq(conf_syslog_warning(&cfg, warn, sizeof(warn)), 0);
}
END_TEST

START_TEST(check_conf_unknown_option)
{
	struct ackd_config	cfg;

	check_conf_assert_error(check_conf_fresh(&cfg, "--nope", NULL),
	    "unknown option ", "'--nope'", "--nope");
	check_conf_assert_error(check_conf_fresh(&cfg, "-z", NULL),
	    "unknown option ", "'-z'", "-z");
	check_conf_assert_error(check_conf_fresh(&cfg, "--port", "1",
	    "--threads=2", "--frobnicate=3", NULL), "unknown option ",
	    "'--frobnicate=3'", "after good flags");
	check_conf_assert_error(check_conf_fresh(&cfg, "--version=2",
	    NULL), "unknown option ", "'--version=2'", "value on a switch");
	/* inside a group of short options, the unknown letter is named */
	check_conf_assert_error(check_conf_fresh(&cfg, "-zV", NULL),
	    "unknown option ", "'-z'", "-zV");
	check_conf_assert_error(check_conf_fresh(&cfg, "-p", "1", "-xz",
	    NULL), "unknown option ", "'-x'", "-xz after -p 1");
}
END_TEST

/* A value with control bytes is quoted with '?' for each: still one line. */
START_TEST(check_conf_error_control_bytes)
{
	struct ackd_config	cfg;

	check_conf_assert_error(check_conf_fresh(&cfg, "--port", "1\n2",
	    NULL), "--port: ", "'1?2' is not a number", "newline in value");
	check_conf_assert_error(check_conf_fresh(&cfg, "--bind",
	    "\033[31mx\r", NULL), "--bind: ", "'?[31mx?'", "escape sequence");
	check_conf_assert_error(check_conf_fresh(&cfg, "--no\tpe=\xff",
	    NULL), "unknown option ", "'--no?pe=?'", "tab and 0xff in a name");
}
END_TEST

/* Each flag that takes a value, last on the line without one, says so. */
START_TEST(check_conf_missing_value)
{
	struct ackd_config	cfg;
	char			flag[64], prefix[80];
	int			i;

	for (i = 0; i < CHECK_CONF_NFLAGS; i++) {
		if (check_conf_flags[i].has_arg != 1)
			continue;
		snprintf(flag, sizeof(flag), "--%s",
		    check_conf_flags[i].name);
		snprintf(prefix, sizeof(prefix), "%s: ", flag);
		check_conf_assert_error(check_conf_fresh(&cfg, flag, NULL),
		    prefix, "missing value (allowed: ", flag);
		check_conf_assert_error(check_conf_fresh(&cfg, "-p", "1",
		    flag, NULL), prefix, "missing value", flag);
		if (check_conf_flags[i].letter == 0)
			continue;
		snprintf(flag, sizeof(flag), "-%c",
		    check_conf_flags[i].letter);
		check_conf_assert_error(check_conf_fresh(&cfg, flag, NULL),
		    prefix, "missing value (allowed: ", flag);
	}
}
END_TEST

START_TEST(check_conf_unexpected_argument)
{
	struct ackd_config	cfg;

	check_conf_assert_error(check_conf_fresh(&cfg, "foo", NULL),
	    "unexpected argument ", "'foo'", "foo");
	check_conf_assert_error(check_conf_fresh(&cfg, "--port", "1",
	    "foo", NULL), "unexpected argument ", "'foo'", "foo last");
	/* no permuting: options after the first word are not taken */
	check_conf_assert_error(check_conf_fresh(&cfg, "foo", "--port",
	    "1", NULL), "unexpected argument ", "'foo'", "foo first");
	ck_assert_int_eq(cfg.port, 9999);
	check_conf_assert_error(check_conf_fresh(&cfg, "--", "--port",
	    "1", NULL), "unexpected argument ", "'--port'", "after --");
	check_conf_assert_error(check_conf_fresh(&cfg, "-", NULL),
	    "unexpected argument ", "'-'", "lone -");
}
END_TEST

START_TEST(check_conf_help_version)
{
	struct ackd_config	cfg;

	ck_assert_int_eq(check_conf_fresh(&cfg, "--help", NULL),
	    CONF_HELP);
	ck_assert_int_eq(check_conf_fresh(&cfg, "-h", NULL), CONF_HELP);
	ck_assert_int_eq(check_conf_fresh(&cfg, "--version", NULL),
	    CONF_VERSION);
	ck_assert_int_eq(check_conf_fresh(&cfg, "-V", NULL), CONF_VERSION);
	/* the first of help, version and an error wins */
	ck_assert_int_eq(check_conf_fresh(&cfg, "-p", "1", "--help", NULL),
	    CONF_HELP);
	ck_assert_int_eq(check_conf_fresh(&cfg, "--help", "--port", "x",
	    NULL), CONF_HELP);
	ck_assert_int_eq(check_conf_fresh(&cfg, "-V", "-h", NULL),
	    CONF_VERSION);
	ck_assert_int_eq(check_conf_fresh(&cfg, "--port", "x", "--help",
	    NULL), CONF_ERROR);
}
END_TEST

START_TEST(check_conf_later_flag_wins)
{
	struct ackd_config	cfg;

	ck_assert_int_eq(check_conf_fresh(&cfg, "--port", "1", "-p", "2",
	    "-t", "3", "--threads=4", NULL), CONF_RUN);
	ck_assert_int_eq(cfg.port, 2);
	ck_assert_int_eq(cfg.threads, 4);
}
END_TEST

/* conf_parse resets getopt, even after a call that stopped mid-word. */
START_TEST(check_conf_parse_again)
{
	struct ackd_config	cfg;

	ck_assert_int_eq(check_conf_fresh(&cfg, "-hV", NULL), CONF_HELP);
	ck_assert_int_eq(check_conf_fresh(&cfg, "-w2", NULL), CONF_RUN);
	ck_assert_int_eq(cfg.workers, 2);
	ck_assert_int_eq(check_conf_fresh(&cfg, "--port", "1", "--nope",
	    "--threads", "2", NULL), CONF_ERROR);
	ck_assert_int_eq(check_conf_fresh(&cfg, "-t", "3", NULL), CONF_RUN);
	ck_assert_int_eq(cfg.threads, 3);
	/* parse on top of an earlier result: only the new flags change */
	ck_assert_int_eq(check_conf_parse(&cfg, "-q", "7", NULL), CONF_RUN);
	ck_assert_int_eq(cfg.threads, 3);
	ck_assert_int_eq(cfg.queue, 7);
}
END_TEST

/* A small error buffer gets a truncated, terminated message. */
START_TEST(check_conf_error_truncated)
{
	struct ackd_config	cfg;
	char			a0[] = "ackd", a1[] = "--nope";
	char			*argv[] = { a0, a1, NULL };
	char			err[8];

	conf_defaults(&cfg);
	memset(err, 'X', sizeof(err));
	ck_assert_int_eq(conf_parse(&cfg, 2, argv, err, sizeof(err)),
	    CONF_ERROR);
	ck_assert_msg(memchr(err, '\0', sizeof(err)) != NULL,
	    "error not terminated");
	ck_assert_str_eq(err, "unknown");
}
END_TEST

/* --help lists every flag with its short form, range and default. */
START_TEST(check_conf_usage_lists_flags)
{
	static const char	*want[] = { "usage: ackd", "[0.0.0.0]",
	    "0-65535", "[9999]", "1-65535", "[511]", "1-256", "1-1024",
	    "[16]", "1-65536", "[256]", "1-1048576", "[1024]",
	    "0.001-86400", "0-86400", "[10]", "1-1024 bytes", "[ACK!]",
	    "text or json [text]" };
	char			*text = NULL, look[64];
	size_t			 size = 0, i;
	FILE			*fp;
	int			 k;

	fp = open_memstream(&text, &size);
	ck_assert_ptr_nonnull(fp);
	conf_usage(fp);
	ck_assert_int_eq(fclose(fp), 0);
	ck_assert_ptr_nonnull(text);
	ck_assert_msg(size > 0 && text[size - 1] == '\n',
	    "usage does not end with a newline");
	for (k = 0; k < CHECK_CONF_NFLAGS; k++) {
		if (check_conf_flags[k].letter != 0)
			snprintf(look, sizeof(look), "-%c, --%s%s",
			    check_conf_flags[k].letter,
			    check_conf_flags[k].name,
			    check_conf_flags[k].has_arg == 2 ? "[=" : " ");
		else
			snprintf(look, sizeof(look), "    --%s%s",
			    check_conf_flags[k].name,
			    check_conf_flags[k].has_arg == 2 ? "[=" : " ");
		ck_assert_msg(strstr(text, look) != NULL,
		    "usage does not list '%s'", look);
	}
	for (i = 0; i < nitems(want); i++)
		ck_assert_msg(strstr(text, want[i]) != NULL,
		    "usage does not show '%s'", want[i]);
	free(text);
}
END_TEST

/* The config suite: defaults, every flag, every kind of error, --help. */
static Suite *
conf_suite(void)
{
	Suite	*s = suite_create("config");
	TCase	*tc;

	tc = tcase_create("defaults");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, check_conf_defaults_values);
	tcase_add_test(tc, check_conf_no_args_keeps_defaults);
	tcase_add_test(tc, check_conf_defer_accept_default);
	tcase_add_test(tc, check_conf_sync_switch);
	tcase_add_test(tc, check_conf_max_memory);
	tcase_add_test(tc, check_conf_check_switch);
	tcase_add_test(tc, check_conf_worker_timeout);
	suite_add_tcase(s, tc);

	tc = tcase_create("numbers");
	tcase_set_timeout(tc, 10);
	tcase_add_loop_test(tc, check_conf_num_forms, 0, CHECK_CONF_NNUMS);
	tcase_add_loop_test(tc, check_conf_num_limits, 0,
	    CHECK_CONF_NNUMS);
	tcase_add_loop_test(tc, check_conf_num_not_a_number, 0,
	    CHECK_CONF_NNUMS);
	tcase_add_test(tc, check_conf_seconds_to_ms);
	suite_add_tcase(s, tc);

	tc = tcase_create("values");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, check_conf_bind);
	tcase_add_test(tc, check_conf_bind_repeated);
	tcase_add_test(tc, check_conf_listen_switches);
	tcase_add_test(tc, check_conf_ack);
	tcase_add_test(tc, check_conf_log_file);
	tcase_add_test(tc, check_conf_log_format);
	tcase_add_test(tc, check_conf_operations);
	tcase_add_test(tc, check_conf_metrics);
	tcase_add_test(tc, check_conf_proxy);
	tcase_add_test(tc, check_conf_allow);
	tcase_add_test(tc, check_conf_tls);
#ifdef HAVE_TLS
	tcase_add_test(tc, check_conf_tls_errors);
#endif
	tcase_add_test(tc, check_conf_framing);
	tcase_add_test(tc, check_conf_log_tag);
	tcase_add_test(tc, check_conf_syslog);
	tcase_add_test(tc, check_conf_syslog_max);
	suite_add_tcase(s, tc);

	tc = tcase_create("command line");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, check_conf_unknown_option);
	tcase_add_test(tc, check_conf_error_control_bytes);
	tcase_add_test(tc, check_conf_missing_value);
	tcase_add_test(tc, check_conf_unexpected_argument);
	tcase_add_test(tc, check_conf_help_version);
	tcase_add_test(tc, check_conf_later_flag_wins);
	tcase_add_test(tc, check_conf_parse_again);
	tcase_add_test(tc, check_conf_error_truncated);
	tcase_add_test(tc, check_conf_usage_lists_flags);
	suite_add_tcase(s, tc);
	return (s);
}

/* Run the suite; the exit status says whether every test passed. */
int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(conf_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
