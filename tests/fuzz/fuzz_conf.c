/* SPDX-License-Identifier: MIT */
/*
 * fuzz_conf.c: libFuzzer target for conf_parse, which reads whatever
 * the command line holds.
 *
 * The input is split on NUL bytes into the words after argv[0] (at most
 * FUZZ_CONF_WORDS of them). Checked: the result is one of the enum's
 * values; an error is one line of printable ASCII in one of the forms
 * conf.c writes; a config to run has every field within the limits of
 * ackd.h and ackd(8); and parsing the same words again gives the same
 * answer (conf_parse resets getopt itself).
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ackd.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Words after argv[0]: far more than any flag needs to meet another. */
#define FUZZ_CONF_WORDS	64

/* Stop with a message: libFuzzer saves the input that got here. */
#define FUZZ_CONF_CHECK(cond, ...) do {				\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz_conf: " __VA_ARGS__);		\
		fputc('\n', stderr);					\
		abort();						\
	}								\
} while (0)

/*
 * The long flags, written out here rather than taken from conf.c;
 * test_flagdoc.py holds this list to ackd --help.
 */
static const char *const fuzz_conf_flags[] = { "bind", "port", "backlog",
    "workers", "threads", "queue", "max-connections", "max-message",
    "max-memory",
    "read-timeout", "shutdown-timeout", "defer-accept", "ack", "log-file", "log-format",
    "sync", "max-connections-per-ip", "daemon", "pid-file", "user", "group",
    "worker-timeout", "max-connections-per-worker", "stats-interval",
    "metrics", "proxy-protocol", "proxy-from", "allow", "ipv6-only",
    "reuseport",
    "framing", "syslog", "log-tag", "syslog-max", "event-interval",
    "tls-port", "tls-only", "tls-cert", "tls-key", "tls-client-ca",
    "tls-min-version", "tls-ciphers", "tls-ciphersuites", "check",
    "help", "version" };

#define FUZZ_CONF_NFLAGS \
	nitems(fuzz_conf_flags)

/* Is err "--FLAG: ..." for one of the flags above? */
static int
fuzz_conf_names_flag(const char *err)
{
	size_t	i, len;

	if (strncmp(err, "--", 2) != 0)
		return (0);
	for (i = 0; i < FUZZ_CONF_NFLAGS; i++) {
		len = strlen(fuzz_conf_flags[i]);
		if (strncmp(err + 2, fuzz_conf_flags[i], len) == 0 &&
		    err[2 + len] == ':' && err[3 + len] == ' ')
			return (1);
	}
	return (0);
}

/* Check an error line: one line, printable, in a form conf.c writes. */
static void
fuzz_conf_check_error(const char *err, size_t errsize)
{
	size_t	i, len = strnlen(err, errsize);

	FUZZ_CONF_CHECK(len < errsize, "error line not NUL-terminated");
	FUZZ_CONF_CHECK(len > 0, "CONF_ERROR with an empty error line");
	for (i = 0; i < len; i++)
		FUZZ_CONF_CHECK((unsigned char)err[i] >= 0x20 &&
		    (unsigned char)err[i] <= 0x7e,
		    "error line: byte 0x%02x at %zu", (unsigned char)err[i], i);
	FUZZ_CONF_CHECK(fuzz_conf_names_flag(err) ||
	    strncmp(err, "unknown option '", 16) == 0 ||
	    strncmp(err, "unexpected argument '", 21) == 0 ||
	    strcmp(err, "missing value") == 0,
	    "error line in no known form: %s", err);
}

/* Check a config to run: every field within its documented limits. */
static void
fuzz_conf_check_run(const struct ackd_config *cfg)
{
	struct sockaddr_storage	ss;
	socklen_t		len;

	int			i;

	/* names are resolved only at start: their form is all we know */
	FUZZ_CONF_CHECK(cfg->nbind >= 1 && cfg->nbind <= ACKD_LISTEN_MAX,
	    "nbind %d", cfg->nbind);
	for (i = 0; i < cfg->nbind; i++) {
		FUZZ_CONF_CHECK(memchr(cfg->bind[i], '\0',
		    sizeof(cfg->bind[i])) != NULL, "bind %d not NUL-terminated",
		    i);
		FUZZ_CONF_CHECK(addr_bind_syntax(cfg->bind[i]),
		    "bind '%s' is not an address or a host name", cfg->bind[i]);
	}
	FUZZ_CONF_CHECK(cfg->port >= 0 && cfg->port <= 65535,
	    "port %d", cfg->port);
	FUZZ_CONF_CHECK(cfg->backlog >= 1 &&
	    cfg->backlog <= ACKD_BACKLOG_MAX, "backlog %d", cfg->backlog);
	FUZZ_CONF_CHECK(cfg->workers >= 1 &&
	    cfg->workers <= ACKD_WORKERS_MAX, "workers %d", cfg->workers);
	FUZZ_CONF_CHECK(cfg->threads >= 1 &&
	    cfg->threads <= ACKD_THREADS_MAX, "threads %d", cfg->threads);
	FUZZ_CONF_CHECK(cfg->queue >= 1 && cfg->queue <= ACKD_QUEUE_MAX,
	    "queue %d", cfg->queue);
	/* 0: sized at start from the descriptor limit */
	FUZZ_CONF_CHECK(cfg->max_connections >= 0 &&
	    cfg->max_connections <= ACKD_CONNECTIONS_MAX,
	    "max_connections %d", cfg->max_connections);
	FUZZ_CONF_CHECK(cfg->max_message >= 1 &&
	    cfg->max_message <= ACKD_MESSAGE_MAX, "max_message %zu",
	    cfg->max_message);
	FUZZ_CONF_CHECK(cfg->read_timeout_ms >= 1 &&
	    cfg->read_timeout_ms <= ACKD_TIMEOUT_MAX_MS, "read_timeout_ms %d",
	    cfg->read_timeout_ms);
	FUZZ_CONF_CHECK(cfg->shutdown_timeout_ms >= 0 &&
	    cfg->shutdown_timeout_ms <= ACKD_TIMEOUT_MAX_MS,
	    "shutdown_timeout_ms %d", cfg->shutdown_timeout_ms);
	/* -1 (follow --read-timeout) must be resolved by now */
	FUZZ_CONF_CHECK(cfg->defer_accept_ms >= 0 &&
	    cfg->defer_accept_ms <= ACKD_TIMEOUT_MAX_MS, "defer_accept_ms %d",
	    cfg->defer_accept_ms);
	FUZZ_CONF_CHECK(cfg->ack_len >= 1 && cfg->ack_len <= ACKD_ACK_MAX &&
	    strnlen(cfg->ack, sizeof(cfg->ack)) == cfg->ack_len,
	    "ack_len %zu for an ack of %zu bytes", cfg->ack_len,
	    strnlen(cfg->ack, sizeof(cfg->ack)));
	FUZZ_CONF_CHECK(cfg->log_file == NULL ||
	    (cfg->log_file[0] != '\0' && strcmp(cfg->log_file, "-") != 0),
	    "log_file '%s' (empty and - are refused or mean stdout)",
	    cfg->log_file);
	FUZZ_CONF_CHECK(cfg->log_format == ACKD_LOG_TEXT ||
	    cfg->log_format == ACKD_LOG_JSON, "log_format %d",
	    (int)cfg->log_format);
	FUZZ_CONF_CHECK(cfg->max_per_ip >= 0 &&
	    cfg->max_per_ip <= ACKD_PER_IP_MAX, "max_per_ip %d",
	    cfg->max_per_ip);
	FUZZ_CONF_CHECK(cfg->max_per_worker >= 0 &&
	    cfg->max_per_worker <= ACKD_PER_WORKER_MAX, "max_per_worker %d",
	    cfg->max_per_worker);
	FUZZ_CONF_CHECK(cfg->stats_interval_ms >= 0 &&
	    cfg->stats_interval_ms <= ACKD_TIMEOUT_MAX_MS,
	    "stats_interval_ms %d", cfg->stats_interval_ms);
	/* -1 resolved; when on, longer than a slow client may take */
	FUZZ_CONF_CHECK(cfg->worker_timeout_ms == 0 ||
	    cfg->worker_timeout_ms > cfg->read_timeout_ms, "worker_timeout_ms "
	    "%d with read_timeout_ms %d", cfg->worker_timeout_ms,
	    cfg->read_timeout_ms);
	FUZZ_CONF_CHECK(!cfg->daemon || cfg->log_file != NULL ||
	    cfg->syslog_facility != 0, "--daemon logging to standard output");
	FUZZ_CONF_CHECK(cfg->syslog_facility == 0 || (!cfg->log_file_given &&
	    !cfg->sync), "--syslog with --log-file or --sync");
	/* resolved to the default with --syslog, refused without it */
	FUZZ_CONF_CHECK(cfg->syslog_facility != 0 ? cfg->syslog_max >=
	    ACKD_SYSLOG_MAX_MIN && cfg->syslog_max <= ACKD_SYSLOG_MAX_MAX :
	    cfg->syslog_max == 0, "syslog_max %zu with facility %d",
	    cfg->syslog_max, cfg->syslog_facility);
	FUZZ_CONF_CHECK(cfg->proxy_from_n == 0 || cfg->proxy_protocol,
	    "--proxy-from without --proxy-protocol");
	FUZZ_CONF_CHECK(cfg->proxy_from_n >= 0 &&
	    cfg->proxy_from_n <= ACKD_PROXY_FROM_MAX, "proxy_from_n %d",
	    cfg->proxy_from_n);
	FUZZ_CONF_CHECK(cfg->allow_n >= 0 && cfg->allow_n <= ACKD_ALLOW_MAX,
	    "allow_n %d", cfg->allow_n);
	FUZZ_CONF_CHECK(cfg->framing == ACKD_FRAMING_READ ||
	    cfg->framing == ACKD_FRAMING_LINE ||
	    cfg->framing == ACKD_FRAMING_EOF, "framing %d", (int)cfg->framing);
	FUZZ_CONF_CHECK(cfg->pid_file == NULL || cfg->pid_file[0] != '\0',
	    "empty pid_file");
	FUZZ_CONF_CHECK((cfg->user == NULL || cfg->user[0] != '\0') &&
	    (cfg->group == NULL || cfg->group[0] != '\0'), "empty user/group");
	FUZZ_CONF_CHECK(cfg->metrics[0] == '\0' ||
	    addr_parse_hostport(cfg->metrics, &ss, &len) == 0,
	    "metrics '%s' does not parse", cfg->metrics);
	/* a TLS listener has its files and a version; no listener, no TLS */
	FUZZ_CONF_CHECK(cfg->tls_port >= 0 ? cfg->tls_port <= 65535 &&
	    cfg->tls_cert != NULL && cfg->tls_key != NULL &&
	    (cfg->tls_min_version == 12 || cfg->tls_min_version == 13) :
	    cfg->tls_port == -1 && !cfg->tls_only && cfg->tls_cert == NULL &&
	    cfg->tls_key == NULL && cfg->tls_client_ca == NULL,
	    "tls_port %d with its other flags", cfg->tls_port);
}

/* Are two configs the same, field by field (padding aside)? */
static int
fuzz_conf_same(const struct ackd_config *a, const struct ackd_config *b)
{
	int	i;

	if (a->nbind != b->nbind)
		return (0);
	for (i = 0; i < a->nbind; i++)
		if (strcmp(a->bind[i], b->bind[i]) != 0)
			return (0);
	return (a->port == b->port && a->ipv6_only == b->ipv6_only &&
	    a->reuseport == b->reuseport && a->framing == b->framing &&
	    a->log_tag == b->log_tag &&
	    a->syslog_facility == b->syslog_facility &&
	    a->syslog_max == b->syslog_max &&
	    a->proxy_protocol == b->proxy_protocol &&
	    a->proxy_from_n == b->proxy_from_n &&
	    memcmp(a->proxy_from, b->proxy_from, (size_t)a->proxy_from_n *
	    sizeof(a->proxy_from[0])) == 0 &&
	    a->allow_n == b->allow_n && memcmp(a->allow, b->allow,
	    (size_t)a->allow_n * sizeof(a->allow[0])) == 0 &&
	    a->backlog == b->backlog && a->workers == b->workers &&
	    a->threads == b->threads && a->queue == b->queue &&
	    a->max_connections == b->max_connections &&
	    a->max_message == b->max_message &&
	    a->read_timeout_ms == b->read_timeout_ms &&
	    a->shutdown_timeout_ms == b->shutdown_timeout_ms &&
	    a->defer_accept_ms == b->defer_accept_ms &&
	    a->ack_len == b->ack_len && strcmp(a->ack, b->ack) == 0 &&
	    a->log_file == b->log_file && a->log_format == b->log_format &&
	    a->sync == b->sync && a->max_per_ip == b->max_per_ip &&
	    a->daemon == b->daemon && a->pid_file == b->pid_file &&
	    a->user == b->user && a->group == b->group &&
	    a->worker_timeout_ms == b->worker_timeout_ms &&
	    a->max_per_worker == b->max_per_worker &&
	    a->stats_interval_ms == b->stats_interval_ms &&
	    strcmp(a->metrics, b->metrics) == 0 &&
	    a->tls_port == b->tls_port && a->tls_only == b->tls_only &&
	    a->tls_cert == b->tls_cert && a->tls_key == b->tls_key &&
	    a->tls_client_ca == b->tls_client_ca &&
	    a->tls_min_version == b->tls_min_version &&
	    a->tls_ciphers == b->tls_ciphers &&
	    a->tls_ciphersuites == b->tls_ciphersuites);
}

/* libFuzzer's entry point: data is a command line, words split by NUL. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char		 argv0[] = "ackd";
	struct ackd_config	 cfg, again;
	enum conf_result	 rc, rc2;
	char			*words, *argv[FUZZ_CONF_WORDS + 2];
	char			 err[512], err2[512];
	size_t			 i, start;
	int			 argc = 1;

	/* a copy with a NUL after the last word; argv points into it */
	if ((words = malloc(size + 1)) == NULL)
		return (0);
	memcpy(words, data, size);
	words[size] = '\0';
	argv[0] = argv0;
	for (i = 0, start = 0; i <= size && argc <= FUZZ_CONF_WORDS; i++) {
		if (i < size && words[i] != '\0')
			continue;
		/* a trailing NUL ends the last word, it does not add one */
		if (i < size || i > start)
			argv[argc++] = words + start;
		start = i + 1;
	}
	argv[argc] = NULL;

	conf_defaults(&cfg);
	memset(err, 0x55, sizeof(err));
	rc = conf_parse(&cfg, argc, argv, err, sizeof(err));
	FUZZ_CONF_CHECK(rc == CONF_RUN || rc == CONF_HELP ||
	    rc == CONF_VERSION || rc == CONF_ERROR, "result %d", (int)rc);
	if (rc == CONF_ERROR)
		fuzz_conf_check_error(err, sizeof(err));
	else if (rc == CONF_RUN)
		fuzz_conf_check_run(&cfg);

	conf_defaults(&again);
	rc2 = conf_parse(&again, argc, argv, err2, sizeof(err2));
	FUZZ_CONF_CHECK(rc2 == rc, "second parse: result %d, first %d",
	    (int)rc2, (int)rc);
	FUZZ_CONF_CHECK(rc != CONF_ERROR || strcmp(err, err2) == 0,
	    "second parse: error '%s', first '%s'", err2, err);
	FUZZ_CONF_CHECK(rc != CONF_RUN || fuzz_conf_same(&cfg, &again),
	    "second parse: another config");
	free(words);
	return (0);
}
