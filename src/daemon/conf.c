/* SPDX-License-Identifier: MIT */
/*
 * conf.c: defaults, flag parsing and range checks.
 *
 * conf_parse never prints and never exits: it fills a struct or returns
 * one line saying what was wrong, so every flag and every error can be
 * unit-tested. The table below is the single list of flags; getopt's
 * tables, the error messages and --help (conf_usage, laid out by
 * optdoc.c) are derived from it. The option engine (opt.c, shared with
 * ackd-bench) parses numbers and switches and words the errors about one
 * flag; conf_set takes the values only ackd knows, conf_check the
 * combinations.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "ackd.h"
#include "opt.h"
#include "optdoc.h"
#include "parse.h"

/* How conf_set takes an OPT_VALUE flag; 0 is the engine's own kinds. */
enum conf_kind {
	KIND_ADDR = 1,	/* appended to bind[], an address or a host name */
	KIND_ACK,	/* char[] field and ack_len, min-max bytes */
	KIND_LOGPATH,	/* const char * field; - is standard output */
	KIND_PATH,	/* const char * field, a non-empty path */
	KIND_NAME,	/* const char * field, a user or group name or id */
	KIND_HOSTPORT,	/* char[] field, numeric ADDR:PORT or [ADDR]:PORT */
	KIND_FORMAT,	/* enum ackd_log_format field: text, json */
	KIND_FRAMING,	/* enum ackd_framing field: read, line, eof */
	KIND_TAG,	/* const char * field, 1-32 of [A-Za-z0-9._-] */
	KIND_FACILITY,	/* int field, a syslog facility; value optional */
	KIND_CIDRS,	/* --proxy-from, --allow: ranges added to a list of at
			 * most max (conf_cidr_list) */
	KIND_TLSFILE,	/* const char * field, a non-empty path (TLS only) */
	KIND_TLSVER,	/* int field: 12 or 13, from 1.2 or 1.3 (TLS only) */
	KIND_TLSLIST	/* const char * field, 1-max bytes for OpenSSL to
			 * judge at start (TLS only) */
};

/* The line a build without TLS gives for any --tls-* flag. */
#define CONF_NO_TLS	"this build has no TLS (configure --with-tls)"


/*
 * Each flag is a struct opt (opt.h): the engine parses numbers and
 * switches, conf_set the rest. Its range in --help and in the error
 * messages is the same min-max; its default is the field's value after
 * conf_defaults, unless dflt names it (a default set later, or off),
 * and a default conf_defaults computes is then shown after the name.
 */
#define FIELD(f)	offsetof(struct ackd_config, f)
#define CONF_STR(x)	CONF_STR2(x)
#define CONF_STR2(x)	#x
#define CONF_TAG_ALLOWED \
	"1-" CONF_STR(ACKD_TAG_MAX) " bytes of A-Z a-z 0-9 . _ -"

/* --help says these in words: kept equal to the limits they name */
#define CONF_SLACK_S		20
#define CONF_MEMORY_MIB	256
_Static_assert(CONF_SLACK_S * 1000 == ACKD_WORKER_TIMEOUT_SLACK_MS,
    "--help's worker-timeout default is not ACKD_WORKER_TIMEOUT_SLACK_MS");
_Static_assert((size_t)CONF_MEMORY_MIB << 20 == ACKD_MEMORY_DEFAULT_MAX,
    "--help's max-memory default is not ACKD_MEMORY_DEFAULT_MAX");

/* Every flag, in the order --help lists them. */
static const struct opt conf_flags[] = {
	{ "bind", 'b', OPT_VALUE, KIND_ADDR, 0, 0, FIELD(bind),
	    "an IPv4 or IPv6 address or a host name", "ADDR",
	    "address or host name to listen on; repeat for more, up to "
	    CONF_STR(ACKD_LISTEN_MAX) " addresses in all", NULL },
	{ "ipv6-only", 280, OPT_SWITCH, 0, 0, 0, FIELD(ipv6_only), NULL, NULL,
	    "IPv6 listeners take no IPv4 (:: is dual-stack)", NULL },
	{ "reuseport", 281, OPT_SWITCH, 0, 0, 0, FIELD(reuseport), NULL, NULL,
	    "a socket per worker (SO_REUSEPORT); the kernel spreads "
	    "connections", "one shared socket" },
	{ "port", 'p', OPT_INT, 0, 0, 65535, FIELD(port), NULL, "N",
	    "TCP port of every listener; 0 picks a free one", NULL },
	{ "backlog", 256, OPT_INT, 0, 1, ACKD_BACKLOG_MAX, FIELD(backlog),
	    NULL, "N", "listen backlog", NULL },
	{ "workers", 'w', OPT_INT, 0, 1, ACKD_WORKERS_MAX, FIELD(workers),
	    NULL, "N", "worker processes", "online CPUs" },
	{ "threads", 't', OPT_INT, 0, 1, ACKD_THREADS_MAX, FIELD(threads),
	    NULL, "N", "handler threads per worker", NULL },
	{ "queue", 'q', OPT_INT, 0, 1, ACKD_QUEUE_MAX, FIELD(queue), NULL, "N",
	    "accepted connections queued per worker", NULL },
	{ "max-connections", 266, OPT_INT, 0, 1, ACKD_CONNECTIONS_MAX,
	    FIELD(max_connections), NULL, "N",
	    "connections a worker holds open at once: queued, served, or "
	    "waiting for their bytes; the descriptor limit is raised to fit",
	    "sized from the descriptor limit" },
	{ "max-message", 'm', OPT_SIZE, 0, 1, ACKD_MESSAGE_MAX,
	    FIELD(max_message), NULL, "N", "bytes read per message", NULL },
	{ "max-memory", 320, OPT_SIZE, 0, 1, ACKD_MEMORY_MAX,
	    FIELD(max_memory), NULL, "N", "bytes per worker for messages over "
	    CONF_STR(ACKD_SMALL_MAX) " bytes and their lines",
	    "one message per thread, up to " CONF_STR(CONF_MEMORY_MIB)
	    " MiB; at least one message" },
	{ "read-timeout", 'r', OPT_MSEC, 0, 1, ACKD_TIMEOUT_MAX_MS,
	    FIELD(read_timeout_ms), NULL, "SEC", "the time a client has for "
	    "its message, from its accept", NULL },
	{ "framing", 310, OPT_VALUE, KIND_FRAMING, 0, 0, FIELD(framing),
	    "read, line, eof", "MODE",
	    "where a message ends: read (one read), line (a newline), eof "
	    "(the client's half-close)", "read" },
	{ "shutdown-timeout", 257, OPT_MSEC, 0, 0, ACKD_TIMEOUT_MAX_MS,
	    FIELD(shutdown_timeout_ms), NULL, "SEC", "graceful shutdown limit",
	    NULL },
	{ "defer-accept", 258, OPT_MSEC, 0, 0, ACKD_TIMEOUT_MAX_MS,
	    FIELD(defer_accept_ms), NULL, "SEC",
	    "kernel holds a connection until "
	    "data, up to SEC; 0 is off (Linux)", "read-timeout" },
	{ "ack", 'a', OPT_VALUE, KIND_ACK, 1, ACKD_ACK_MAX, FIELD(ack), NULL,
	    "TEXT", "reply once the message is logged", NULL },
	{ "log-file", 'l', OPT_VALUE, KIND_LOGPATH, 0, 0, FIELD(log_file),
	    "a file path, or -", "PATH", "append the log to PATH; - is stdout",
	    "stdout" },
	{ "log-format", 'f', OPT_VALUE, KIND_FORMAT, 0, 0, FIELD(log_format),
	    "text, json", "FMT", "text or json", "text" },
	{ "syslog", 311, OPT_OPTIONAL, KIND_FACILITY, 0, 0,
	    FIELD(syslog_facility), "daemon, user, local0-local7", "FACILITY",
	    "log to syslog (/dev/log), not a file; FACILITY "
	    "daemon, user, local0-local7", "daemon" },
	{ "syslog-max", 313, OPT_SIZE, 0, ACKD_SYSLOG_MAX_MIN,
	    ACKD_SYSLOG_MAX_MAX, FIELD(syslog_max), NULL, "BYTES",
	    "longest datagram the syslog daemon "
	    "keeps whole (rsyslog's maxMessageSize); a message whose line is "
	    "longer is not acknowledged",
	    CONF_STR(ACKD_SYSLOG_MAX_DEFAULT) },
	{ "log-tag", 312, OPT_VALUE, KIND_TAG, 1, ACKD_TAG_MAX, FIELD(log_tag),
	    CONF_TAG_ALLOWED, "TAG",
	    "name this instance in every log line (tag=TAG) and as the "
	    "syslog tag", "none" },
	{ "event-interval", 330, OPT_MSEC, 0, 0, ACKD_TIMEOUT_MAX_MS,
	    FIELD(event_interval_ms), NULL, "SEC",
	    "summarise repeated event lines "
	    "(empty, refused, ...) of one source per SEC: count=N; 0 writes "
	    "each", NULL },
	{ "sync", 259, OPT_SWITCH, 0, 0, 0, FIELD(sync), NULL, NULL,
	    "ACK only once the line is on stable storage (fdatasync, shared "
	    "by concurrent handlers)", NULL },
	{ "max-connections-per-ip", 260, OPT_INT, 0, 0, ACKD_PER_IP_MAX,
	    FIELD(max_per_ip), NULL, "N",
	    "connections one address may hold at "
	    "once, all workers together; 0 is no limit", NULL },
	{ "daemon", 'd', OPT_SWITCH, 0, 0, 0, FIELD(daemon), NULL, NULL,
	    "detach from the terminal; needs --log-file or --syslog", NULL },
	{ "pid-file", 'P', OPT_VALUE, KIND_PATH, 0, 0, FIELD(pid_file),
	    "a file path", "PATH",
	    "write the master's pid there once ready; locked", NULL },
	{ "user", 'u', OPT_VALUE, KIND_NAME, 0, 0, FIELD(user),
	    "a user or group name or number", "USER",
	    "after binding, run as USER (and its groups)", NULL },
	{ "group", 'g', OPT_VALUE, KIND_NAME, 0, 0, FIELD(group),
	    "a user or group name or number", "GROUP",
	    "after binding, run as GROUP", "USER's group" },
	{ "worker-timeout", 261, OPT_MSEC, 0, 0, ACKD_TIMEOUT_MAX_MS,
	    FIELD(worker_timeout_ms), NULL, "SEC",
	    "replace a worker that makes no "
	    "progress for SEC while it has work; 0 is off, else more than "
	    "read-timeout", "read-timeout + " CONF_STR(CONF_SLACK_S) },
	{ "max-connections-per-worker", 262, OPT_INT, 0, 0,
	    ACKD_PER_WORKER_MAX, FIELD(max_per_worker), NULL, "N",
	    "replace a worker, gracefully, after "
	    "N connections and up to N/10 more, so they do not all go at "
	    "once; 0 is never", NULL },
	{ "stats-interval", 263, OPT_MSEC, 0, 0, ACKD_TIMEOUT_MAX_MS,
	    FIELD(stats_interval_ms), NULL, "SEC",
	    "log each worker's counters " "every SEC; 0 is off", NULL },
	{ "metrics", 264, OPT_VALUE, KIND_HOSTPORT, 0, 0, FIELD(metrics),
	    "ADDR:PORT or [ADDR]:PORT", "ADDR:PORT",
	    "serve the counters for Prometheus over HTTP at "
	    "http://ADDR:PORT/metrics", "off" },
	/* 300 and up: apart from the values other flags take meanwhile */
	{ "proxy-protocol", 300, OPT_SWITCH, 0, 0, 0, FIELD(proxy_protocol),
	    NULL, NULL,
	    "each connection starts with a PROXY protocol header (v1 "
	    "or v2); log its client", "off" },
	{ "proxy-from", 301, OPT_VALUE, KIND_CIDRS, 0, ACKD_PROXY_FROM_MAX,
	    FIELD(proxy_from),
	    "ADDR[/BITS][,...]", "CIDR[,CIDR...]",
	    "take PROXY headers only from these addresses "
	    "(IPv4/IPv6 ADDR or ADDR/BITS, up to "
	    CONF_STR(ACKD_PROXY_FROM_MAX) "); others are refused",
	    "any source" },
	{ "allow", 302, OPT_VALUE, KIND_CIDRS, 0, ACKD_ALLOW_MAX, FIELD(allow),
	    "ADDR[/BITS][,...]", "CIDR[,CIDR...]",
	    "serve clients only from these addresses (IPv4/IPv6 ADDR or "
	    "ADDR/BITS, up to " CONF_STR(ACKD_ALLOW_MAX) "); others are "
	    "closed unread; with --proxy-protocol, the client the header "
	    "names", "any client" },
	/* 340 and up: TLS; a build without it refuses them (CONF_NO_TLS) */
	{ "tls-port", 340, OPT_INT, 0, 0, 65535, FIELD(tls_port), NULL, "N",
	    "also listen for TLS on port N of every --bind address; 0 picks "
	    "a free one; needs --tls-cert", "off" },
	{ "tls-only", 341, OPT_SWITCH, 0, 0, 0, FIELD(tls_only), NULL, NULL,
	    "no plain listener: serve --tls-port alone", "off" },
	{ "tls-cert", 342, OPT_VALUE, KIND_TLSFILE, 0, 0, FIELD(tls_cert),
	    "a file path", "FILE",
	    "PEM certificate chain, leaf first; reread on SIGHUP", "none" },
	{ "tls-key", 343, OPT_VALUE, KIND_TLSFILE, 0, 0, FIELD(tls_key),
	    "a file path", "FILE",
	    "PEM private key, read before the privilege drop; reread on "
	    "SIGHUP", "the --tls-cert file" },
	{ "tls-client-ca", 344, OPT_VALUE, KIND_TLSFILE, 0, 0,
	    FIELD(tls_client_ca), "a file path", "FILE",
	    "PEM CA certificates: require client certificates they "
	    "sign", "none" },
	{ "tls-min-version", 345, OPT_VALUE, KIND_TLSVER, 0, 0,
	    FIELD(tls_min_version), "1.2, 1.3", "VER",
	    "oldest TLS version served: 1.2 or 1.3", "1.2" },
	{ "tls-ciphers", 346, OPT_VALUE, KIND_TLSLIST, 1, ACKD_TLS_LIST_MAX,
	    FIELD(tls_ciphers), "an OpenSSL cipher list", "LIST",
	    "TLS 1.2 ciphers (OpenSSL's syntax)", ACKD_TLS_CIPHERS },
	{ "tls-ciphersuites", 347, OPT_VALUE, KIND_TLSLIST, 1,
	    ACKD_TLS_LIST_MAX, FIELD(tls_ciphersuites),
	    "an OpenSSL ciphersuite list", "LIST",
	    "TLS 1.3 ciphersuites (OpenSSL's syntax)",
	    "all three: AES-128-GCM, AES-256-GCM, CHACHA20" },
	{ "check", 265, OPT_SWITCH, 0, 0, 0, FIELD(check), NULL, NULL,
	    "check the flags, the addresses, the log, the user and the pid "
	    "file as a start would; print what would run; exit 0 or the "
	    "start's status", NULL },
	{ "help", 'h', OPT_HELP, 0, 0, 0, 0, NULL, NULL,
	    "print this help and exit", NULL },
	{ "version", 'V', OPT_VERSION, 0, 0, 0, 0, NULL, NULL,
	    "print the version and exit", NULL },
};

#define CONF_NFLAGS	nitems(conf_flags)
#define CONF_DOC_COLUMN	29	/* where --help's text starts */

/* Set every field to its default: the seed script's behaviour. */
void
conf_defaults(struct ackd_config *cfg)
{
	long	ncpu;

	memset(cfg, 0, sizeof(*cfg));
	strcpy(cfg->bind[0], "0.0.0.0");
	cfg->nbind = 1;
	cfg->port = 9999;
	cfg->backlog = 511;
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	cfg->workers = ncpu < 1 ? 1 :
	    ncpu > ACKD_WORKERS_MAX ? ACKD_WORKERS_MAX : (int)ncpu;
	cfg->threads = 16;
	cfg->queue = 256;
	cfg->max_message = 1024;
	cfg->read_timeout_ms = 10 * 1000;
	cfg->shutdown_timeout_ms = 10 * 1000;
	cfg->defer_accept_ms = -1;	/* conf_parse: the read timeout */
	cfg->worker_timeout_ms = -1;	/* conf_parse: read timeout + 20 s */
	strcpy(cfg->ack, "ACK!");
	cfg->ack_len = 4;
	cfg->log_file = NULL;
	cfg->log_format = ACKD_LOG_TEXT;
	cfg->event_interval_ms = 10 * 1000;
	cfg->tls_port = -1;
	cfg->tls_min_version = 0;	/* conf_check_tls: 12 */
	cfg->tls_ciphers = ACKD_TLS_CIPHERS;
	cfg->tls_ciphersuites = ACKD_TLS_CIPHERSUITES;
}

/* The list f (--proxy-from or --allow) adds to, and where its count is. */
static struct proxy_cidr *
conf_cidr_list(struct ackd_config *cfg, const struct opt *f, int **n)
{
	if (f->offset == FIELD(allow)) {
		*n = &cfg->allow_n;
		return (cfg->allow);
	}
	*n = &cfg->proxy_from_n;
	return (cfg->proxy_from);
}

/*
 * Add the comma-separated ranges of one --proxy-from or --allow to its
 * list, of at most f->max (the flag may be repeated: each adds to it).
 */
static enum opt_result
conf_cidrs(struct ackd_config *cfg, const struct opt *f, const char *arg,
    char *err, size_t errsize)
{
	const char		*p = arg, *comma;
	int			*n;
	struct proxy_cidr	*list = conf_cidr_list(cfg, f, &n);
	size_t			 len;

	for (;;) {
		comma = strchr(p, ',');
		len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (*n == f->max)
			return (opt_error(err, errsize, "--%s: more than %lld "
			    "ranges (allowed: up to %lld, all --%s together)",
			    f->name, f->max, f->max, f->name));
		if (proxy_cidr_parse(p, len, &list[*n]) == -1)
			return (opt_error(err, errsize, "--%s: '%.*s' is not "
			    "an address range (allowed: comma-separated IPv4 or "
			    "IPv6 ADDR or ADDR/BITS, e.g. 10.0.0.0/8,::1)",
			    f->name, (int)(len > 64 ? 64 : len), p));
		(*n)++;
		if (comma == NULL)
			return (OPT_RUN);
		p = comma + 1;
	}
}

/*
 * May a client at sa (as accept() gave it, or as a PROXY header names
 * it) be served? Yes if it is in an --allow range; without --allow,
 * everyone may.
 */
int
conf_allowed(const struct ackd_config *cfg, const struct sockaddr *sa,
    socklen_t salen)
{
	return (cfg->allow_n == 0 ||
	    proxy_cidr_any(cfg->allow, cfg->allow_n, sa, salen));
}

/*
 * Add one --bind value to cfg: the first replaces the default. Names are
 * only checked for their form here; they are resolved at start.
 */
static enum opt_result
conf_bind(struct ackd_config *cfg, const struct opt *f,
    const char *arg, char *err, size_t errsize)
{
	if (strlen(arg) > ACKD_HOST_MAX)
		return (opt_error(err, errsize, "--%s: %zu bytes is too long "
		    "(allowed: 1-%d)", f->name, strlen(arg), ACKD_HOST_MAX));
	if (!addr_bind_syntax(arg))
		return (opt_error(err, errsize, "--%s: '%s' is not an IPv4 "
		    "or IPv6 address or a host name", f->name, arg));
	if (!cfg->bind_given) {
		cfg->bind_given = 1;
		cfg->nbind = 0;
	}
	if (cfg->nbind == ACKD_LISTEN_MAX)
		return (opt_error(err, errsize, "--%s: '%s' is one address "
		    "too many (allowed: 1-%d --bind flags)", f->name, arg,
		    ACKD_LISTEN_MAX));
	strcpy(cfg->bind[cfg->nbind++], arg);
	return (OPT_RUN);
}

/*
 * Is s a tag: min-max bytes of letters, digits, '.', '_', '-'? It goes
 * into every log line unescaped and becomes the syslog tag, so nothing
 * that could split a field or a header is allowed.
 */
static int
conf_is_tag(const char *s, size_t min, size_t max)
{
	size_t	len = strspn(s, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-");

	return (s[len] == '\0' && len >= min && len <= max);
}

/* The syslog facilities --syslog takes: a daemon's, and the local ones. */
static const struct {
	const char	*name;
	int		 value;
} conf_facilities[] = {
	{ "daemon", LOG_DAEMON }, { "user", LOG_USER },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
};

/* The facility called name (NULL: the default, daemon), or 0. */
static int
conf_facility(const char *name)
{
	size_t	i;

	if (name == NULL)
		return (LOG_DAEMON);
	for (i = 0; i < nitems(conf_facilities); i++)
		if (strcmp(name, conf_facilities[i].name) == 0)
			return (conf_facilities[i].value);
	return (0);
}

/*
 * Set one TLS flag's field from arg: a file, a version or a list. A
 * build without TLS refuses them all. The files are read at start
 * (tls_setup), which says what is wrong with one; the lists too.
 */
static enum opt_result
conf_tls(const struct opt *f, char *field, const char *arg, char *err,
    size_t errsize)
{
#ifndef HAVE_TLS
	(void)field;
	(void)arg;
	return (opt_error(err, errsize, "--%s: " CONF_NO_TLS, f->name));
#else
	size_t	len = strlen(arg);

	if (f->what == KIND_TLSVER) {
		if (strcmp(arg, "1.2") != 0 && strcmp(arg, "1.3") != 0)
			return (opt_error(err, errsize, "--%s: '%.16s' is not "
			    "allowed (allowed: 1.2, 1.3)", f->name, arg));
		*(int *)(void *)field = arg[2] == '2' ? 12 : 13;
		return (OPT_RUN);
	}
	if (f->what == KIND_TLSFILE && len == 0)
		return (opt_error(err, errsize, "--%s: empty path (allowed: "
		    "a file path)", f->name));
	if (f->what == KIND_TLSLIST && (len < (size_t)f->min ||
	    len > (size_t)f->max))
		return (opt_error(err, errsize, "--%s: %zu bytes is %s "
		    "(allowed: %lld-%lld bytes)", f->name, len, len == 0 ?
		    "empty" : "too long", f->min, f->max));
	*(const char **)(void *)field = arg;
	return (OPT_RUN);
#endif
}

/* Set one flag the engine leaves to ackd: cfgv is the struct ackd_config. */
static enum opt_result
conf_set(void *cfgv, const struct opt *f, const char *arg, char *err,
    size_t errsize)
{
	struct ackd_config	*cfg = cfgv;
	char			*field = (char *)cfg + f->offset;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	size_t			 len;

	switch ((enum conf_kind)f->what) {
	case KIND_ADDR:
		return (conf_bind(cfg, f, arg, err, errsize));
	case KIND_ACK:
		len = strlen(arg);
		if (len < (size_t)f->min || len > (size_t)f->max)
			return (opt_error(err, errsize, "--%s: %zu bytes is "
			    "%s (allowed: %lld-%lld bytes)", f->name, len,
			    len == 0 ? "empty" : "too long", f->min, f->max));
		memcpy(cfg->ack, arg, len + 1);
		cfg->ack_len = len;
		return (OPT_RUN);
	case KIND_LOGPATH:
		if (arg[0] == '\0')
			return (opt_error(err, errsize, "--%s: empty path "
			    "(allowed: a file path, or - for standard output)",
			    f->name));
		cfg->log_file = strcmp(arg, "-") == 0 ? NULL : arg;
		cfg->log_file_given = 1;
		return (OPT_RUN);
	case KIND_PATH:
		if (arg[0] == '\0')
			return (opt_error(err, errsize, "--%s: empty path "
			    "(allowed: a file path)", f->name));
		*(const char **)(void *)field = arg;
		return (OPT_RUN);
	case KIND_NAME:
		if (arg[0] == '\0' || strlen(arg) > ACKD_NAME_MAX)
			return (opt_error(err, errsize, "--%s: '%s' is not a "
			    "name (allowed: a user or group name or number, "
			    "1-%d bytes)", f->name, arg, ACKD_NAME_MAX));
		*(const char **)(void *)field = arg;
		return (OPT_RUN);
	case KIND_HOSTPORT:
		if (strlen(arg) >= sizeof(cfg->metrics) ||
		    addr_parse_hostport(arg, &ss, &sslen) == -1)
			return (opt_error(err, errsize, "--%s: '%s' is not "
			    "ADDR:PORT (allowed: a numeric IPv4 address or a "
			    "[bracketed] IPv6 address, ':', a port 0-65535)",
			    f->name, arg));
		strcpy(cfg->metrics, arg);
		return (OPT_RUN);
	case KIND_FORMAT:
		if (strcmp(arg, "text") == 0)
			cfg->log_format = ACKD_LOG_TEXT;
		else if (strcmp(arg, "json") == 0)
			cfg->log_format = ACKD_LOG_JSON;
		else
			return (opt_error(err, errsize, "--%s: '%s' is not "
			    "allowed (allowed: text, json)", f->name, arg));
		return (OPT_RUN);
	case KIND_FRAMING:
		if (strcmp(arg, "read") == 0)
			cfg->framing = ACKD_FRAMING_READ;
		else if (strcmp(arg, "line") == 0)
			cfg->framing = ACKD_FRAMING_LINE;
		else if (strcmp(arg, "eof") == 0)
			cfg->framing = ACKD_FRAMING_EOF;
		else
			return (opt_error(err, errsize, "--%s: '%s' is not "
			    "allowed (allowed: read, line, eof)", f->name, arg));
		return (OPT_RUN);
	case KIND_TAG:
		if (!conf_is_tag(arg, (size_t)f->min, (size_t)f->max))
			return (opt_error(err, errsize, "--%s: '%s' is not a "
			    "tag (allowed: %lld-%lld bytes of A-Z a-z 0-9 . _ -)",
			    f->name, arg, f->min, f->max));
		*(const char **)(void *)field = arg;
		return (OPT_RUN);
	case KIND_FACILITY:
		/* LOG_KERN is 0, and not ours to use: 0 can mean "off" */
		if ((*(int *)(void *)field = conf_facility(arg)) == 0)
			return (opt_error(err, errsize, "--%s: '%s' is not "
			    "a facility (allowed: daemon, user, local0-local7)",
			    f->name, arg));
		return (OPT_RUN);
	case KIND_CIDRS:
		return (conf_cidrs(cfg, f, arg, err, errsize));
	case KIND_TLSFILE:
	case KIND_TLSVER:
	case KIND_TLSLIST:
		return (conf_tls(f, field, arg, err, errsize));
	}
	return (opt_error(err, errsize, "--%s: internal error", f->name));
}

/*
 * The extra fields of a message line at their longest: truncated=1, and
 * under --proxy-protocol the balancer's address and command (handler.c).
 */
static const char *
conf_worst_extra(const struct ackd_config *cfg, char *buf, size_t size)
{
	char	addr[ACKD_ADDRSTRLEN];

	if (!cfg->proxy_protocol)
		return ("truncated=1");
	memset(addr, '9', sizeof(addr) - 1);
	addr[sizeof(addr) - 1] = '\0';
	snprintf(buf, size, "proxy=%s proxy_cmd=unknown truncated=1", addr);
	return (buf);
}

/*
 * --syslog: a message line must fit in one datagram of --syslog-max
 * bytes, or it is not logged and not acknowledged. Refuse a
 * --max-message that could never fit: one whose message, with nothing to
 * escape, does not fit with the other fields at their longest.
 */
static enum opt_result
conf_check_syslog(struct ackd_config *cfg, char *err, size_t errsize)
{
	char	extra[ACKD_ADDRSTRLEN + 64];
	size_t	fit;

	if (cfg->syslog_facility == 0) {
		if (cfg->syslog_max != 0)
			return (opt_error(err, errsize, "--syslog-max: limits "
			    "the datagrams of --syslog (allowed: with --syslog)"));
		return (OPT_RUN);
	}
	if (cfg->syslog_max == 0)
		cfg->syslog_max = ACKD_SYSLOG_MAX_DEFAULT;
	fit = logfmt_syslog_fit(cfg->log_format, cfg->log_tag,
	    conf_worst_extra(cfg, extra, sizeof(extra)), cfg->syslog_max);
	if (cfg->max_message > fit)
		return (opt_error(err, errsize, "--max-message: %zu bytes "
		    "cannot fit in one syslog datagram of --syslog-max %zu "
		    "bytes, header and fields included (allowed: --max-message "
		    "up to %zu, or a larger --syslog-max)", cfg->max_message,
		    cfg->syslog_max, fit));
	return (OPT_RUN);
}

/* The size of a thread's own message buffer: a small message and one byte. */
size_t
conf_small_size(const struct ackd_config *cfg)
{
	return ((cfg->max_message < ACKD_SMALL_MAX ? cfg->max_message :
	    ACKD_SMALL_MAX) + 1);
}

/*
 * What one connection takes from the budget: a whole message (plus the
 * byte that shows truncation) and its longest line. 0 when every
 * message fits a thread's own buffers, and the budget is never used.
 */
size_t
conf_need(const struct ackd_config *cfg)
{
	if (cfg->max_message + 1 <= conf_small_size(cfg))
		return (0);
	return (cfg->max_message + 1 + logfmt_line_max(cfg->log_format,
	    cfg->max_message, ACKD_EXTRA_MAX));
}

/*
 * --max-memory: at least what one connection may take, so that every
 * message can be served. By default what every thread takes with a
 * message at once, as before there was a budget, but at most 256 MiB
 * (and at least the one message).
 */
static enum opt_result
conf_memory(struct ackd_config *cfg, char *err, size_t errsize)
{
	size_t	need = conf_need(cfg), all;

	all = need > ACKD_MEMORY_DEFAULT_MAX / (size_t)cfg->threads ?
	    ACKD_MEMORY_DEFAULT_MAX : need * (size_t)cfg->threads;
	if (cfg->max_memory == 0)
		cfg->max_memory = all > need ? all : need;
	else if (cfg->max_memory < need)
		return (opt_error(err, errsize, "--max-memory: %zu bytes "
		    "cannot hold one message of --max-message %zu and its %s "
		    "line (allowed: %zu-%lld)", cfg->max_memory,
		    cfg->max_message, cfg->log_format == ACKD_LOG_JSON ?
		    "json" : "text", need, (long long)ACKD_MEMORY_MAX));
	return (OPT_RUN);
}

/*
 * Put a warning into buf when a message with bytes to escape can make a
 * line too long for --syslog-max (such a message is then not logged and
 * not acknowledged), while a plain one of --max-message fits; 1 if so.
 */
int
conf_syslog_warning(const struct ackd_config *cfg, char *buf, size_t size)
{
	char	extra[ACKD_ADDRSTRLEN + 64];
	size_t	fit, worst;

	if (cfg->syslog_facility == 0)
		return (0);
	fit = logfmt_syslog_fit(cfg->log_format, cfg->log_tag,
	    conf_worst_extra(cfg, extra, sizeof(extra)), cfg->syslog_max);
	worst = cfg->syslog_max - fit + (cfg->log_format == ACKD_LOG_JSON ?
	    logfmt_json_max(cfg->max_message) :
	    logfmt_text_max(cfg->max_message));
	if (worst <= cfg->syslog_max)
		return (0);
	snprintf(buf, size, "--max-message %zu: a message with bytes to "
	    "escape can make a syslog datagram of up to %zu bytes, over "
	    "--syslog-max %zu; such a message is not logged and not "
	    "acknowledged (log-failed reason=too-long)", cfg->max_message,
	    worst, cfg->syslog_max);
	return (1);
}

/*
 * The first TLS flag given that needs --tls-port, as "--name", or NULL.
 * A version given is not 0; the lists' defaults are not NULL: a list
 * given is another string, even if it says the same.
 */
static const char *
conf_tls_given(const struct ackd_config *cfg)
{
	struct ackd_config	d;

	conf_defaults(&d);
	if (cfg->tls_only)
		return ("--tls-only");
	if (cfg->tls_cert != NULL)
		return ("--tls-cert");
	if (cfg->tls_key != NULL)
		return ("--tls-key");
	if (cfg->tls_client_ca != NULL)
		return ("--tls-client-ca");
	if (cfg->tls_min_version != 0)
		return ("--tls-min-version");
	if (cfg->tls_ciphers != d.tls_ciphers)
		return ("--tls-ciphers");
	if (cfg->tls_ciphersuites != d.tls_ciphersuites)
		return ("--tls-ciphersuites");
	return (NULL);
}

/*
 * The TLS flags together: --tls-port needs --tls-cert, and every other
 * TLS flag needs --tls-port (a certificate for no listener is a mistake
 * worth saying). --tls-key defaults to the --tls-cert file.
 */
static enum opt_result
conf_check_tls(struct ackd_config *cfg, char *err, size_t errsize)
{
	const char	*given = conf_tls_given(cfg);

#ifndef HAVE_TLS
	/* the value kinds were refused as they came; these are the engine's */
	if (cfg->tls_port >= 0 || given != NULL)
		return (opt_error(err, errsize, "%s: " CONF_NO_TLS,
		    cfg->tls_port >= 0 ? "--tls-port" : given));
#endif
	if (cfg->tls_port < 0) {
		if (given != NULL)
			return (opt_error(err, errsize, "%s: there is no TLS "
			    "listener (allowed: with --tls-port N)", given));
		return (OPT_RUN);
	}
	if (cfg->tls_cert == NULL)
		return (opt_error(err, errsize, "--tls-port: a TLS listener "
		    "needs a certificate (allowed: with --tls-cert FILE)"));
	if (cfg->tls_port != 0 && cfg->tls_port == cfg->port && !cfg->tls_only)
		return (opt_error(err, errsize, "--tls-port: %d is --port's "
		    "too (allowed: another port, 0 for a free one, or "
		    "--tls-only)", cfg->tls_port));
	if (cfg->tls_key == NULL)
		cfg->tls_key = cfg->tls_cert;
	if (cfg->tls_min_version == 0)
		cfg->tls_min_version = 12;
	return (OPT_RUN);
}

/*
 * Resolve the defaults that depend on other flags, and refuse the
 * combinations that cannot work, once every flag is in.
 */
static enum opt_result
conf_check(struct ackd_config *cfg, char *err, size_t errsize)
{
	if (cfg->defer_accept_ms < 0)
		cfg->defer_accept_ms = cfg->read_timeout_ms;
	/* a handler may wait that long for a client without being stuck */
	if (cfg->worker_timeout_ms < 0)
		cfg->worker_timeout_ms = cfg->read_timeout_ms +
		    ACKD_WORKER_TIMEOUT_SLACK_MS;
	else if (cfg->worker_timeout_ms > 0 &&
	    cfg->worker_timeout_ms <= cfg->read_timeout_ms)
		return (opt_error(err, errsize, "--worker-timeout: %d.%03d s "
		    "is not longer than --read-timeout %d.%03d s (allowed: 0, "
		    "which is off, or more than the read timeout)",
		    cfg->worker_timeout_ms / 1000, cfg->worker_timeout_ms % 1000,
		    cfg->read_timeout_ms / 1000, cfg->read_timeout_ms % 1000));
#ifndef ACKD_REUSEPORT_OPT
	if (cfg->reuseport)
		return (opt_error(err, errsize, "--reuseport: this system "
		    "has no SO_REUSEPORT (allowed: leave it out; the workers "
		    "then share one socket)"));
#endif
	if (cfg->syslog_facility != 0 && cfg->log_file_given)
		return (opt_error(err, errsize, "--syslog: cannot be used "
		    "with --log-file (allowed: one of them)"));
	if (cfg->syslog_facility != 0 && cfg->sync)
		return (opt_error(err, errsize, "--sync: nothing to sync "
		    "with --syslog, where the syslog daemon writes the log "
		    "(allowed: --sync with --log-file)"));
	if (cfg->daemon && cfg->log_file == NULL && cfg->syslog_facility == 0)
		return (opt_error(err, errsize, "--daemon: the log cannot go "
		    "to standard output, which a daemon closes (allowed: "
		    "--log-file PATH or --syslog)"));
	if (conf_memory(cfg, err, errsize) != OPT_RUN)
		return (OPT_ERROR);
	if (cfg->proxy_from_n > 0 && !cfg->proxy_protocol)
		return (opt_error(err, errsize, "--proxy-from: trusts PROXY "
		    "headers, which only --proxy-protocol reads (allowed: with "
		    "--proxy-protocol)"));
	if (conf_check_tls(cfg, err, errsize) != OPT_RUN)
		return (OPT_ERROR);
	return (conf_check_syslog(cfg, err, errsize));
}

/* conf_parse's answer for the engine's rc. */
static enum conf_result
conf_result_of(enum opt_result rc)
{
	switch (rc) {
	case OPT_RUN:
		return (CONF_RUN);
	case OPT_PRINT_HELP:
		return (CONF_HELP);
	case OPT_PRINT_VERSION:
		return (CONF_VERSION);
	default:
		return (CONF_ERROR);
	}
}

/*
 * Parse argv into cfg (which holds the defaults). On CONF_ERROR, err
 * holds one line naming the flag and what is allowed. May be called again:
 * getopt is reset each time.
 */
enum conf_result
conf_parse(struct ackd_config *cfg, int argc, char **argv, char *err,
    size_t errsize)
{
	struct opt_parser	p = { "ackd", conf_flags, CONF_NFLAGS, cfg,
				    conf_set, 0 };
	enum opt_result		rc;

	rc = opt_parse(&p, argc, argv, err, errsize);
	if (rc == OPT_RUN)
		rc = conf_check(cfg, err, errsize);
	return (conf_result_of(rc));
}

/*
 * f's default for --help, from the defaults in d: the field's value; or
 * f->dflt when the field is not yet set (0 or below), or is no number;
 * "online CPUs: 2" when both are.
 */
static const char *
conf_doc_default(const struct opt *f, const struct ackd_config *d,
    char *buf, size_t size)
{
	char		 num[32];
	long long	 v;

	if (f->what == KIND_ACK)
		return (d->ack);
	if (f->what == KIND_ADDR)
		return (d->bind[0]);
	if (opt_value(f, d, &v) == -1 || (v <= 0 && f->dflt != NULL))
		return (f->dflt);
	opt_format(f, v, num, sizeof(num));
	snprintf(buf, size, "%s%s%s", f->dflt != NULL ? f->dflt : "",
	    f->dflt != NULL ? ": " : "", num);
	return (buf);
}

/* f's range for --help, as the error messages give it, with its unit. */
static const char *
conf_doc_range(const struct opt *f, char *buf, size_t size)
{
	if (f->what == KIND_TAG) {
		snprintf(buf, size, "%lld-%lld of A-Za-z0-9._-", f->min, f->max);
		return (buf);
	}
	return (opt_doc_range(f, buf, size));
}

/* Print --help: every flag of the table with its range and default. */
void
conf_usage(FILE *fp)
{
	struct ackd_config	 d;
	struct optdoc		 doc;
	char			 range[64], dflt[64];
	size_t			 i;

	conf_defaults(&d);
	fputs("usage: ackd [options]\n"
	    "Receive one message per TCP connection, log it, reply with an "
	    "ACK, close.\n\n", fp);
	for (i = 0; i < CONF_NFLAGS; i++) {
		const struct opt	*f = &conf_flags[i];

		doc.letter = f->letter;
		doc.name = f->name;
		doc.arg = f->arg;
		doc.arg_optional = f->kind == OPT_OPTIONAL;
		doc.help = f->help;
		doc.range = conf_doc_range(f, range, sizeof(range));
		doc.dflt = conf_doc_default(f, &d, dflt, sizeof(dflt));
		optdoc_print(fp, &doc, CONF_DOC_COLUMN);
	}
	fputs("\n"
"Signals: TERM/INT graceful stop, HUP reopen the log and reread the TLS\n"
"files that changed, USR1 log the counters, USR2 upgrade to the binary on\n"
"disk (same flags, no connection dropped), TTIN/TTOU one worker more/less.\n"
"Exit: 0 ok, 1 workers killed at the shutdown deadline, 64 bad flag or TLS\n"
"file, 69 cannot bind or another ackd holds the pid file, 70 internal error\n"
"or workers keep dying at start, 71 system resources, 73 cannot open the\n"
"log or pid file, 77 cannot change user.\n"
"See ackd(8).\n", fp);
}
