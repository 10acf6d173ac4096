/* SPDX-License-Identifier: MIT */
/*
 * bench_flags.c: ackd-bench's flags: the table, parsing, --help and
 * --version.
 *
 * bench_flags_parse never prints and never exits: it fills in the config
 * or returns one line naming the flag and what is allowed. The table below
 * is the single list of flags; getopt's tables, the range checks, the
 * error messages and --help (laid out by optdoc.c) are derived from it,
 * by the option engine (opt.c) that ackd's flags share.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "opt.h"
#include "optdoc.h"
#include "parse.h"

/* How bench_flags_set takes an OPT_VALUE flag. */
enum bench_flags_kind {
	BENCH_TEXT = 1,	/* struct bench_text, [min, max] bytes */
	BENCH_STRING	/* const char *, not empty */
};

/*
 * Each flag is a struct opt (opt.h): the engine parses numbers and
 * switches, bench_flags_set the rest. Its range in --help and in the
 * error messages is the same min-max; its default is the field's value
 * after bench_flags_defaults, unless dflt names it ("" for none).
 */
#define FIELD(f)	offsetof(struct bench_config, f)
#define SECONDS_MAX_MS	((long long)BENCH_SECONDS_MAX * 1000)

/* Every flag, in the order --help lists them. */
static const struct opt bench_flags_table[] = {
	{ "host", 'H', OPT_VALUE, BENCH_STRING, 0, 0, FIELD(host),
	    "a host name or a numeric IPv4 or IPv6 address", "HOST",
	    "server name or address", NULL },
	{ "port", 'p', OPT_INT, 0, 1, 65535, FIELD(port), NULL, "N",
	    "server port", NULL },
	{ "concurrency", 'c', OPT_INT, 0, 0, BENCH_CONCURRENCY_MAX,
	    FIELD(concurrency), NULL, "N", "well-behaved connections in flight "
	    "(0: only with an attack)", NULL },
	{ "threads", 't', OPT_INT, 0, 1, BENCH_THREADS_MAX, FIELD(threads),
	    NULL, "N", "event-loop threads", NULL },
	{ "duration", 'd', OPT_LLMSEC, 0, 1, SECONDS_MAX_MS,
	    FIELD(duration_ms), NULL, "SEC", "measure this long",
	    "10 without --count" },
	{ "count", 'n', OPT_LLONG, 0, 1, BENCH_COUNT_MAX, FIELD(count), NULL,
	    "N", "stop after N counted connections", "" },
	{ "warmup", 'w', OPT_LLMSEC, 0, 0, SECONDS_MAX_MS, FIELD(warmup_ms),
	    NULL, "SEC", "run this long first, not counted", NULL },
	{ "message", 'm', OPT_VALUE, BENCH_TEXT, 0, BENCH_MESSAGE_MAX,
	    FIELD(message), NULL, "TEXT", "the message", NULL },
	{ "size", 's', OPT_SIZE, 0, 1, BENCH_MESSAGE_MAX, FIELD(size), NULL,
	    "N", "send N bytes of printable filler instead", "" },
	{ "unique", 'u', OPT_SWITCH, 0, 0, 0, FIELD(unique), NULL, NULL,
	    "start each message with \"b<pid>-<thread>-<n> \"", NULL },
	{ "half-close", 262, OPT_SWITCH, 0, 0, 0, FIELD(half_close), NULL,
	    NULL, "shut down the sending side once the message is sent",
	    NULL },
	{ "expect", 'e', OPT_VALUE, BENCH_TEXT, 0, BENCH_EXPECT_MAX,
	    FIELD(expect), NULL, "TEXT", "the reply that counts as ok", NULL },
	{ "timeout", 'T', OPT_LLMSEC, 0, 1, SECONDS_MAX_MS, FIELD(timeout_ms),
	    NULL, "SEC", "deadline of each connection", NULL },
	{ "json", 'j', OPT_SWITCH, 0, 0, 0, FIELD(json), NULL, NULL,
	    "print the report as one JSON object", NULL },
	{ "record", 'r', OPT_VALUE, BENCH_STRING, 0, 0, FIELD(record),
	    "a file path", "FILE",
	    "append each acknowledged message (needs --unique)", NULL },
	{ "sources", 256, OPT_INT, 0, 0, BENCH_SOURCES_MAX, FIELD(sources),
	    NULL, "N", "for a 127.x.y.z host, bind to 127.0.0.2 to "
	    "127.0.0.(N+1); 0 binds nothing", NULL },
	{ "attack-concurrency", 'a', OPT_INT, 0, 0, BENCH_CONCURRENCY_MAX,
	    FIELD(attack_concurrency), NULL, "N", "attack connections held "
	    "besides, each reopened when the server closes it", NULL },
	{ "trickle", 257, OPT_LLMSEC, 0, 1, SECONDS_MAX_MS, FIELD(trickle_ms),
	    NULL, "SEC", "attack: send a byte every SEC seconds, forever",
	    "" },
	{ "silent", 258, OPT_SWITCH, 0, 0, 0, FIELD(silent), NULL, NULL,
	    "attack: send nothing", NULL },
	{ "no-read", 259, OPT_SWITCH, 0, 0, 0, FIELD(no_read), NULL, NULL,
	    "attack: send the message, never read the reply", NULL },
	{ "attack-size", 260, OPT_SIZE, 0, 1, BENCH_MESSAGE_MAX,
	    FIELD(attack_size), NULL, "N", "attack: send N bytes of filler "
	    "first", "trickle: 1, no-read: the message, silent: 0" },
	{ "attack-sources", 261, OPT_INT, 0, 0, BENCH_ATTACK_SOURCES_MAX,
	    FIELD(attack_sources), NULL, "N", "bind the attack to N addresses "
	    "after those of --sources; 0 binds nothing", NULL },
	{ "tls", 263, OPT_SWITCH, 0, 0, 0, FIELD(tls), NULL, NULL,
	    "speak TLS to the server", NULL },
	{ "tls-ca", 264, OPT_VALUE, BENCH_STRING, 0, 0, FIELD(tls_ca),
	    "a file path", "FILE", "verify the server against these PEM "
	    "certificates", "no verification" },
	{ "tls-cert", 265, OPT_VALUE, BENCH_STRING, 0, 0, FIELD(tls_cert),
	    "a file path", "FILE", "present this PEM client certificate "
	    "chain", "" },
	{ "tls-key", 266, OPT_VALUE, BENCH_STRING, 0, 0, FIELD(tls_key),
	    "a file path", "FILE", "the client certificate's PEM key",
	    "the --tls-cert file" },
	{ "tls-resume", 267, OPT_SWITCH, 0, 0, 0, FIELD(tls_resume), NULL,
	    NULL, "resume each client's previous TLS session", NULL },
	{ "quiet", 'q', OPT_SWITCH, 0, 0, 0, FIELD(quiet), NULL, NULL,
	    "no progress line, no error samples on stderr", NULL },
	{ "help", 'h', OPT_HELP, 0, 0, 0, 0, NULL, NULL,
	    "print this help and exit", NULL },
	{ "version", 'V', OPT_VERSION, 0, 0, 0, 0, NULL, NULL,
	    "print the version and exit", NULL },
};

#define BENCH_NFLAGS \
	nitems(bench_flags_table)
#define BENCH_DOC_COLUMN	25	/* where --help's text starts */

/* Set every field to its default. */
void
bench_flags_defaults(struct bench_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->host = "127.0.0.1";
	cfg->port = 9999;
	cfg->concurrency = 64;
	cfg->threads = 1;
	cfg->message.s = "hello";
	cfg->message.len = 5;
	cfg->expect.s = "ACK!";
	cfg->expect.len = 4;
	cfg->timeout_ms = 10 * 1000;
	cfg->sources = 16;
	cfg->attack_sources = 1;
}

/* Set one flag the engine leaves to the bench: cfgv is the bench_config. */
static enum opt_result
bench_flags_set(void *cfgv, const struct opt *f, const char *arg, char *err,
    size_t errsize)
{
	char			*field = (char *)cfgv + f->offset;
	struct bench_text	*text = (struct bench_text *)(void *)field;
	size_t			 len;

	if (f->what == BENCH_TEXT) {
		len = strlen(arg);
		if (len > (size_t)f->max)
			return (opt_error(err, errsize, "--%s: %zu bytes is too "
			    "long (allowed: %lld-%lld bytes)", f->name, len,
			    f->min, f->max));
		text->s = arg;
		text->len = len;
		return (OPT_RUN);
	}
	if (arg[0] == '\0')
		return (opt_error(err, errsize, "--%s: empty value (allowed: "
		    "%s)", f->name, f->allowed));
	*(const char **)(void *)field = arg;
	return (OPT_RUN);
}

/* Was the flag called name on the command line? */
static int
bench_flags_given(const struct bench_config *cfg, const char *name)
{
	const struct opt	*f;

	f = opt_named(bench_flags_table, BENCH_NFLAGS, name);
	return (f != NULL && ((cfg->given >> (f - bench_flags_table)) & 1));
}

/*
 * Check the attack flags: one mode goes with --attack-concurrency, and
 * neither without the other; set cfg->attack.
 */
static enum opt_result
bench_flags_check_attack(struct bench_config *cfg, char *err, size_t errsize)
{
	int	modes = (cfg->trickle_ms > 0) + cfg->silent + cfg->no_read;

	if (modes > 1)
		return (opt_error(err, errsize, "--trickle, --silent, "
		    "--no-read: %d of them given (allowed: one attack mode)",
		    modes));
	if (modes == 1 && cfg->attack_concurrency == 0)
		return (opt_error(err, errsize, "--%s: needs "
		    "--attack-concurrency N (allowed: 1-%d attack clients)",
		    cfg->trickle_ms > 0 ? "trickle" : cfg->silent ? "silent" :
		    "no-read", BENCH_CONCURRENCY_MAX));
	if (modes == 0 && (cfg->attack_concurrency > 0 ||
	    bench_flags_given(cfg, "attack-size") ||
	    bench_flags_given(cfg, "attack-sources")))
		return (opt_error(err, errsize, "--%s: needs an attack mode "
		    "(allowed: --trickle SEC, --silent or --no-read)",
		    cfg->attack_concurrency > 0 ? "attack-concurrency" :
		    bench_flags_given(cfg, "attack-size") ? "attack-size" :
		    "attack-sources"));
	cfg->attack = cfg->trickle_ms > 0 ? BENCH_ATTACK_TRICKLE :
	    cfg->silent ? BENCH_ATTACK_SILENT : cfg->no_read ?
	    BENCH_ATTACK_NO_READ : BENCH_ATTACK_NONE;
	if (cfg->concurrency == 0 && cfg->attack == BENCH_ATTACK_NONE)
		return (opt_error(err, errsize, "--concurrency: 0 needs an "
		    "attack (allowed: 1-%d, or 0 with --attack-concurrency)",
		    BENCH_CONCURRENCY_MAX));
	if (cfg->concurrency == 0 && cfg->count > 0)
		return (opt_error(err, errsize, "--count: counts "
		    "well-behaved connections, but --concurrency is 0"));
	return (OPT_RUN);
}

/*
 * Check the TLS flags: none in a build without TLS; the others only with
 * --tls; --tls-key only with --tls-cert.
 */
static enum opt_result
bench_flags_check_tls(const struct bench_config *cfg, char *err,
    size_t errsize)
{
	static const char *const	 names[] = { "tls", "tls-ca", "tls-cert",
					    "tls-key", "tls-resume" };
	size_t				 i;

	for (i = 0; i < nitems(names); i++) {
		if (!bench_flags_given(cfg, names[i]))
			continue;
		if (!BENCH_HAVE_TLS)
			return (opt_error(err, errsize, "--%s: this build has "
			    "no TLS (configure --with-tls)", names[i]));
		if (!cfg->tls)
			return (opt_error(err, errsize, "--%s: needs --tls",
			    names[i]));
	}
	if (cfg->tls_key != NULL && cfg->tls_cert == NULL)
		return (opt_error(err, errsize, "--tls-key: needs --tls-cert "
		    "(the client certificate the key goes with)"));
	return (OPT_RUN);
}

/* Check the flags against each other, once all are known. */
static enum opt_result
bench_flags_check(struct bench_config *cfg, char *err, size_t errsize)
{
	enum opt_result	rc;

	if ((rc = bench_flags_check_tls(cfg, err, errsize)) != OPT_RUN)
		return (rc);
	if ((rc = bench_flags_check_attack(cfg, err, errsize)) != OPT_RUN)
		return (rc);
	if (cfg->concurrency > 0 && cfg->threads > cfg->concurrency)
		return (opt_error(err, errsize, "--threads: %d is more "
		    "than --concurrency (%d); each thread needs a connection",
		    cfg->threads, cfg->concurrency));
	if (cfg->size > 0 && bench_flags_given(cfg, "message"))
		return (opt_error(err, errsize, "--size: cannot be "
		    "used with --message (allowed: one of them)"));
	if (cfg->size > 0 && cfg->unique && cfg->size < BENCH_PREFIX_MAX)
		return (opt_error(err, errsize, "--size: %zu is too "
		    "small for --unique (allowed: %d-%d)", cfg->size,
		    BENCH_PREFIX_MAX, BENCH_MESSAGE_MAX));
	if (cfg->record != NULL && !cfg->unique)
		return (opt_error(err, errsize, "--record: needs "
		    "--unique (only unique messages can be found in the log)"));
	if (cfg->record != NULL &&
	    memchr(cfg->message.s, '\n', cfg->message.len) != NULL)
		return (opt_error(err, errsize, "--record: the "
		    "--message holds a newline, but records are one per line"));
	if (cfg->duration_ms == 0 && cfg->count == 0)
		cfg->duration_ms = 10 * 1000;
	return (OPT_RUN);
}

/* bench_flags_parse's answer for the engine's rc. */
static enum bench_flags_result
bench_flags_result_of(enum opt_result rc)
{
	switch (rc) {
	case OPT_RUN:
		return (BENCH_RUN);
	case OPT_PRINT_HELP:
		return (BENCH_HELP);
	case OPT_PRINT_VERSION:
		return (BENCH_VERSION);
	default:
		return (BENCH_ERROR);
	}
}

/*
 * Parse argv into cfg (which holds the defaults). On BENCH_ERROR, err
 * holds one line naming the flag and what is allowed. Never prints.
 */
enum bench_flags_result
bench_flags_parse(struct bench_config *cfg, int argc, char **argv, char *err,
    size_t errsize)
{
	struct opt_parser	p = { "ackd-bench", bench_flags_table,
				    BENCH_NFLAGS, cfg, bench_flags_set, 0 };
	enum opt_result		rc;

	rc = opt_parse(&p, argc, argv, err, errsize);
	cfg->given = p.given;
	if (rc == OPT_RUN)
		rc = bench_flags_check(cfg, err, errsize);
	return (bench_flags_result_of(rc));
}

/*
 * f's default for --help, from the defaults in d: the field's value,
 * unless f->dflt names it ("" for none).
 */
static const char *
bench_flags_doc_default(const struct opt *f, const struct bench_config *d,
    char *buf, size_t size)
{
	const char	*field = (const char *)d + f->offset;
	long long	 v;

	if (f->dflt != NULL)
		return (f->dflt[0] != '\0' ? f->dflt : NULL);
	if (opt_value(f, d, &v) == 0) {
		opt_format(f, v, buf, size);
		return (buf);
	}
	if (f->what == BENCH_TEXT)
		return (((const struct bench_text *)(const void *)field)->s);
	if (f->what == BENCH_STRING)
		return (*(const char *const *)(const void *)field);
	return (NULL);
}

/* Print --help: every flag of the table with its range and default. */
void
bench_flags_usage(FILE *fp)
{
	struct bench_config	 d;
	struct optdoc		 doc;
	char			 range[64], dflt[64];
	size_t			 i;

	bench_flags_defaults(&d);
	fputs("usage: ackd-bench [options]\n"
	    "Keep connections to ackd in flight, each sending one message "
	    "and reading\nthe reply until the server closes; report the rate "
	    "and the latency. With an\nattack, hostile connections are held "
	    "besides, on a thread of their own.\n\n", fp);
	for (i = 0; i < BENCH_NFLAGS; i++) {
		const struct opt	*f = &bench_flags_table[i];

		memset(&doc, 0, sizeof(doc));
		doc.letter = f->letter;
		doc.name = f->name;
		doc.arg = f->arg;
		doc.help = f->help;
		doc.range = opt_doc_range(f, range, sizeof(range));
		doc.dflt = bench_flags_doc_default(f, &d, dflt, sizeof(dflt));
		optdoc_print(fp, &doc, BENCH_DOC_COLUMN);
	}
	fputs("\n"
"Exit: 0 every counted connection ok (with --concurrency 0: an attack\n"
"connection was established), 1 a wrong reply, an error or nothing counted,\n"
"64 bad flag or TLS file, 71 system resources, 73 cannot open the record\n"
"file.\n"
"See ackd-bench(1).\n", fp);
}

/* Print --version. */
void
bench_flags_version(FILE *fp)
{
	fprintf(fp, "ackd-bench %s\n", PACKAGE_VERSION);
}
