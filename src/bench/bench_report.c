/* SPDX-License-Identifier: MIT */
/*
 * bench_report.c: ackd-bench's reports: the text one for people, the JSON
 * one with exactly the documented keys, and the progress line on a
 * terminal. With an attack, both reports give the well-behaved clients'
 * figures as without one, then the attack's: its connections, how the
 * server ended them, how long it held them, and how many it still held
 * at the end. With --tls, both give the TLS handshakes too: how many,
 * how many of them the server resumed, and their times, full and resumed
 * apart.
 */
#include "config.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"

#define BENCH_REPORT_OLD_NS	BENCH_NS_S	/* the progress line shows it */

static const char *const bench_report_kind_names[BENCH_NKINDS] = {
	"connect", "reset", "timeout", "other", "tls", "unfinished"
};

/* Write us microseconds with a unit: us, ms or s. */
static void
bench_report_format_us(char *buf, size_t size, uint64_t us)
{
	if (us < 1000)
		snprintf(buf, size, "%llu us", (unsigned long long)us);
	else if (us < 1000000)
		snprintf(buf, size, "%.2f ms", (double)us / 1e3);
	else
		snprintf(buf, size, "%.2f s", (double)us / 1e6);
}

/* Print s as a JSON string. */
static void
bench_report_json_string(FILE *fp, const char *s)
{
	const unsigned char	*p;

	fputc('"', fp);
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(fp, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(fp, "\\u%04x", *p);
		else
			fputc(*p, fp);
	}
	fputc('"', fp);
}

/* Print the first reply bytes of a wrong reply, escaped, in quotes. */
static void
bench_report_print_sample(FILE *fp, const char *s, size_t len, size_t total)
{
	size_t	i;

	fputc('"', fp);
	for (i = 0; i < len; i++) {
		unsigned char	ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\')
			fprintf(fp, "\\%c", ch);
		else if (ch < 0x20 || ch > 0x7e)
			fprintf(fp, "\\x%02x", ch);
		else
			fputc(ch, fp);
	}
	fprintf(fp, "%s\" (%zu bytes)", total > len ? "..." : "", total);
}

/* Describe the first error of kind k in words. */
static void
bench_report_first_text(const struct bench_report *r, int k, char *buf,
    size_t size)
{
	static const char *const states[] = {
		"idle", "waiting", "connecting", "in the TLS handshake",
		"sending", "waiting for the reply"
	};
	const struct bench_first	*f = &r->first[k];
	const char			*state;
	char				 age[32];

	/* for timeouts and unfinished ones, err is the client's state */
	state = f->err >= 0 && f->err <= BENCH_READING ? states[f->err] :
	    "busy";
	if (k == BENCH_TIMEOUT)
		snprintf(buf, size, "first: still %s", state);
	else if (k == BENCH_UNFINISHED) {
		bench_report_format_us(age, sizeof(age),
		    r->counts.unfinished_us);
		snprintf(buf, size, "oldest %s, first: still %s",
		    age, state);
	} else if (k == BENCH_TLS)
		snprintf(buf, size, "first: %s", r->tls.why[0] != '\0' ?
		    r->tls.why : "TLS failed");
	else
		snprintf(buf, size, "first: %s", strerror(f->err));
}

/* Say what the first error of each kind and the first wrong reply were. */
void
bench_report_print_firsts(FILE *fp, const struct bench_report *r,
    const char *lead)
{
	char	text[256];
	int	k;

	for (k = 0; k < BENCH_NKINDS; k++) {
		if (r->counts.errors[k] == 0)
			continue;
		bench_report_first_text(r, k, text, sizeof(text));
		fprintf(fp, "%s%llu %s error%s, %s\n", lead,
		    (unsigned long long)r->counts.errors[k],
		    bench_report_kind_names[k],
		    r->counts.errors[k] == 1 ? "" : "s", text);
	}
	if (r->counts.wrong > 0) {
		fprintf(fp, "%s%llu wrong repl%s, first: ", lead,
		    (unsigned long long)r->counts.wrong,
		    r->counts.wrong == 1 ? "y" : "ies");
		bench_report_print_sample(fp, r->sample, r->sample_len,
		    r->sample_bytes);
		fputc('\n', fp);
	}
}

/* ok connections per second of the measured time. */
static double
bench_report_rate(const struct bench_report *r)
{
	return (r->duration_s > 0 ? (double)r->counts.ok / r->duration_s : 0);
}

/* Print h's percentiles, max and mean as a JSON object. */
static void
bench_report_json_hist(FILE *fp, const struct hist *h)
{
	fprintf(fp, "{\"p50\":%llu,\"p90\":%llu,\"p99\":%llu,"
	    "\"p999\":%llu,\"max\":%llu,\"mean\":%.1f}",
	    (unsigned long long)hist_percentile(h, 50.0),
	    (unsigned long long)hist_percentile(h, 90.0),
	    (unsigned long long)hist_percentile(h, 99.0),
	    (unsigned long long)hist_percentile(h, 99.9),
	    (unsigned long long)hist_max(h), hist_mean(h));
}

/* The attack mode's name, as --json and the text report give it. */
static const char *
bench_report_mode(enum bench_attack_mode mode)
{
	switch (mode) {
	case BENCH_ATTACK_TRICKLE:
		return ("trickle");
	case BENCH_ATTACK_SILENT:
		return ("silent");
	case BENCH_ATTACK_NO_READ:
		return ("no-read");
	default:
		return ("none");
	}
}

/* Connections started again after each attack client's first. */
static uint64_t
bench_report_reconnects(const struct bench_config *cfg,
    const struct bench_report *r)
{
	uint64_t	first = (uint64_t)cfg->attack_concurrency;

	return (r->attack.started > first ? r->attack.started - first : 0);
}

/* Print the value of the JSON report's "attack" key: null, or an object. */
static void
bench_report_json_attack(FILE *fp, const struct bench_config *cfg,
    const struct bench_report *r)
{
	const struct bench_attack_counts	*a = &r->attack;

	if (cfg->attack == BENCH_ATTACK_NONE) {
		fputs("null", fp);
		return;
	}
	fprintf(fp, "{\"mode\":\"%s\",\"concurrency\":%d,\"sources\":%d,"
	    "\"first_bytes\":%zu,\"trickle_s\":%.3f,\"duration_s\":%.3f,",
	    bench_report_mode(cfg->attack), cfg->attack_concurrency,
	    r->attack_sources, r->attack_first_len,
	    (double)cfg->trickle_ms / 1e3, r->attack_s);
	fprintf(fp, "\"connections\":%llu,\"reconnects\":%llu,"
	    "\"opened\":%llu,\"failed\":%llu,\"closed\":%llu,"
	    "\"reset\":%llu,\"open_at_end\":%llu,\"connecting_at_end\":%llu,"
	    "\"oldest_open_us\":%llu,\"bytes_sent\":%llu,\"held_us\":",
	    (unsigned long long)a->started,
	    (unsigned long long)bench_report_reconnects(cfg, r),
	    (unsigned long long)a->opened, (unsigned long long)a->failed,
	    (unsigned long long)a->closed, (unsigned long long)a->reset,
	    (unsigned long long)a->open_at_end,
	    (unsigned long long)a->connecting_at_end,
	    (unsigned long long)a->oldest_open_us,
	    (unsigned long long)a->bytes_sent);
	bench_report_json_hist(fp, &r->attack_held);
	fputc('}', fp);
}

/* Print the value of the JSON report's "tls" key: null, or an object. */
static void
bench_report_json_tls(FILE *fp, const struct bench_config *cfg,
    const struct bench_report *r)
{
	const struct bench_tls_counts	*tls = &r->tls;

	if (!cfg->tls) {
		fputs("null", fp);
		return;
	}
	fputs("{\"version\":", fp);
	bench_report_json_string(fp, tls->version);
	fputs(",\"cipher\":", fp);
	bench_report_json_string(fp, tls->cipher);
	fprintf(fp, ",\"verify\":%s,\"client_cert\":%s,\"resume\":%s,"
	    "\"handshakes\":%llu,\"full\":%llu,\"resumed\":%llu,"
	    "\"offered\":%llu,\"full_us\":", cfg->tls_ca != NULL ? "true" :
	    "false", cfg->tls_cert != NULL ? "true" : "false",
	    cfg->tls_resume ? "true" : "false",
	    (unsigned long long)tls->handshakes,
	    (unsigned long long)(tls->handshakes - tls->resumed),
	    (unsigned long long)tls->resumed,
	    (unsigned long long)tls->offered);
	bench_report_json_hist(fp, &tls->full_us);
	fputs(",\"resumed_us\":", fp);
	bench_report_json_hist(fp, &tls->resumed_us);
	fputc('}', fp);
}

/* Print the report as one JSON object, with exactly the documented keys. */
void
bench_report_json(FILE *fp, const struct bench_config *cfg,
    const struct bench_report *r)
{
	fputs("{\"host\":", fp);
	bench_report_json_string(fp, cfg->host);
	fprintf(fp, ",\"port\":%d,\"concurrency\":%d,\"threads\":%d,"
	    "\"message_bytes\":%zu,\"duration_s\":%.3f,\"connections\":%llu,"
	    "\"ok\":%llu,\"wrong\":%llu,", cfg->port, cfg->concurrency,
	    cfg->threads, r->longest, r->duration_s,
	    (unsigned long long)r->counts.connections,
	    (unsigned long long)r->counts.ok,
	    (unsigned long long)r->counts.wrong);
	fprintf(fp, "\"errors\":{\"connect\":%llu,\"reset\":%llu,"
	    "\"timeout\":%llu,\"other\":%llu,\"tls\":%llu,"
	    "\"unfinished\":%llu},\"unfinished_age_us\":%llu,"
	    "\"rate\":%.1f,",
	    (unsigned long long)r->counts.errors[BENCH_CONNECT],
	    (unsigned long long)r->counts.errors[BENCH_RESET],
	    (unsigned long long)r->counts.errors[BENCH_TIMEOUT],
	    (unsigned long long)r->counts.errors[BENCH_OTHER],
	    (unsigned long long)r->counts.errors[BENCH_TLS],
	    (unsigned long long)r->counts.errors[BENCH_UNFINISHED],
	    (unsigned long long)r->counts.unfinished_us,
	    bench_report_rate(r));
	fputs("\"latency_us\":", fp);
	bench_report_json_hist(fp, &r->hist);
	fputs(",\"attack\":", fp);
	bench_report_json_attack(fp, cfg, r);
	fputs(",\"tls\":", fp);
	bench_report_json_tls(fp, cfg, r);
	fputs("}\n", fp);
}

/* Print what the attack clients do, for the text report. */
static void
bench_report_text_mode(FILE *fp, const struct bench_config *cfg,
    const struct bench_report *r)
{
	size_t	n = r->attack_first_len;
	char	v[32];

	fprintf(fp, "attack       %d %s client%s", cfg->attack_concurrency,
	    bench_report_mode(cfg->attack),
	    cfg->attack_concurrency == 1 ? "" : "s");
	if (cfg->attack == BENCH_ATTACK_TRICKLE) {
		bench_report_format_us(v, sizeof(v),
		    (uint64_t)cfg->trickle_ms * 1000);
		fprintf(fp, ": %zu byte%s, then 1 every %s", n,
		    n == 1 ? "" : "s", v);
	} else if (cfg->attack == BENCH_ATTACK_SILENT)
		fprintf(fp, ": %zu bytes, then nothing", n);
	else
		fprintf(fp, ": %zu bytes, never reading", n);
	fprintf(fp, "; %d source%s, %.3f s\n", r->attack_sources,
	    r->attack_sources == 1 ? "" : "s", r->attack_s);
}

/* Print the attack's part of the text report. */
static void
bench_report_text_attack(FILE *fp, const struct bench_config *cfg,
    const struct bench_report *r)
{
	const struct bench_attack_counts	*a = &r->attack;
	const struct hist			*h = &r->attack_held;
	char					 p50[32], p99[32], mx[32];

	bench_report_text_mode(fp, cfg, r);
	fprintf(fp, "attack conns %llu started (%llu reconnects), %llu "
	    "opened, %llu failed", (unsigned long long)a->started,
	    (unsigned long long)bench_report_reconnects(cfg, r),
	    (unsigned long long)a->opened, (unsigned long long)a->failed);
	if (a->failed > 0)
		fprintf(fp, ", first: %s", strerror(a->first_failure));
	fprintf(fp, "\nclosed       %llu by the server (%llu reset)",
	    (unsigned long long)a->closed, (unsigned long long)a->reset);
	if (a->closed > 0) {
		bench_report_format_us(p50, sizeof(p50),
		    hist_percentile(h, 50.0));
		bench_report_format_us(p99, sizeof(p99),
		    hist_percentile(h, 99.0));
		bench_report_format_us(mx, sizeof(mx), hist_max(h));
		fprintf(fp, ", held p50 %s, p99 %s, max %s", p50, p99, mx);
	}
	fputc('\n', fp);
	bench_report_format_us(mx, sizeof(mx), a->oldest_open_us);
	fprintf(fp, "open at end  %llu, oldest %s; %llu still connecting\n",
	    (unsigned long long)a->open_at_end, mx,
	    (unsigned long long)a->connecting_at_end);
}

/* Print the TLS part of the text report: what was agreed, handshakes. */
static void
bench_report_text_tls(FILE *fp, const struct bench_config *cfg,
    const struct bench_report *r)
{
	const struct bench_tls_counts	*tls = &r->tls;
	char				 full[32], resumed[32];

	fprintf(fp, "tls          %s %s, server %sverified%s\n",
	    tls->version[0] != '\0' ? tls->version : "-",
	    tls->cipher[0] != '\0' ? tls->cipher : "-",
	    cfg->tls_ca != NULL ? "" : "not ", cfg->tls_cert != NULL ?
	    ", client certificate" : "");
	bench_report_format_us(full, sizeof(full),
	    hist_percentile(&tls->full_us, 50.0));
	bench_report_format_us(resumed, sizeof(resumed),
	    hist_percentile(&tls->resumed_us, 50.0));
	fprintf(fp, "handshakes   %llu: %llu full (p50 %s), %llu resumed "
	    "(p50 %s) of %llu offered\n",
	    (unsigned long long)tls->handshakes,
	    (unsigned long long)(tls->handshakes - tls->resumed), full,
	    (unsigned long long)tls->resumed, resumed,
	    (unsigned long long)tls->offered);
}

/* Print the report for people. */
void
bench_report_text(FILE *fp, const struct bench_config *cfg,
    const struct bench_report *r)
{
	static const double	 pcts[] = { 50.0, 90.0, 99.0, 99.9 };
	static const char *const names[] = { "p50", "p90", "p99", "p99.9" };
	const struct hist	*h = &r->hist;
	uint64_t		 errors = 0;
	char			 v[32];
	size_t			 i;
	int			 k;

	for (k = 0; k < BENCH_NKINDS; k++)
		errors += r->counts.errors[k];
	fprintf(fp, "ackd-bench %s against %s port %d\n", PACKAGE_VERSION,
	    cfg->host, cfg->port);
	fprintf(fp, "load         %d connection%s in flight on %d thread%s, "
	    "%zu-byte messages\n", cfg->concurrency,
	    cfg->concurrency == 1 ? "" : "s", cfg->threads,
	    cfg->threads == 1 ? "" : "s", r->longest);
	fprintf(fp, "duration     %.3f s", r->duration_s);
	if (cfg->warmup_ms > 0)
		fprintf(fp, " after %.3f s of warmup",
		    (double)cfg->warmup_ms / 1e3);
	fprintf(fp, "\nconnections  %llu, %.1f ok/s\n",
	    (unsigned long long)r->counts.connections, bench_report_rate(r));
	fprintf(fp, "ok           %llu\nwrong        %llu\n",
	    (unsigned long long)r->counts.ok,
	    (unsigned long long)r->counts.wrong);
	fprintf(fp, "errors       %llu: connect %llu, reset %llu, "
	    "timeout %llu, other %llu, ", (unsigned long long)errors,
	    (unsigned long long)r->counts.errors[BENCH_CONNECT],
	    (unsigned long long)r->counts.errors[BENCH_RESET],
	    (unsigned long long)r->counts.errors[BENCH_TIMEOUT],
	    (unsigned long long)r->counts.errors[BENCH_OTHER]);
	/* a plain run's line stays as it was */
	if (cfg->tls)
		fprintf(fp, "tls %llu, ",
		    (unsigned long long)r->counts.errors[BENCH_TLS]);
	fprintf(fp, "unfinished %llu\n",
	    (unsigned long long)r->counts.errors[BENCH_UNFINISHED]);
	bench_report_print_firsts(fp, r, "             ");
	fputs("latency     ", fp);
	for (i = 0; i < nitems(pcts); i++) {
		bench_report_format_us(v, sizeof(v),
		    hist_percentile(h, pcts[i]));
		fprintf(fp, " %s %s%s", names[i], v, i + 1 <
		    nitems(pcts) ? "," : "");
	}
	bench_report_format_us(v, sizeof(v), hist_max(h));
	fprintf(fp, "\n             max %s, mean ", v);
	bench_report_format_us(v, sizeof(v), (uint64_t)(hist_mean(h) + 0.5));
	fprintf(fp, "%s\n", v);
	if (cfg->tls)
		bench_report_text_tls(fp, cfg, r);
	if (cfg->attack != BENCH_ATTACK_NONE)
		bench_report_text_attack(fp, cfg, r);
}

/* --- the progress line ------------------------------------------------ */

/* When the oldest connection in flight started, of all threads; 0: none. */
static uint64_t
bench_report_oldest(const struct bench_run *run, struct bench_thread *threads)
{
	uint64_t	oldest = 0, v;
	int		i;

	for (i = 0; i < run->nthreads; i++) {
		v = atomic_load_explicit(&threads[i].pub_oldest,
		    memory_order_relaxed);
		if (v != 0 && (oldest == 0 || v < oldest))
			oldest = v;
	}
	return (oldest);
}

/*
 * Once a second: add up the threads' counts and, if print, show them with
 * the last second's rate on the progress line, and the age of the oldest
 * connection in flight once it is a second old: a server that keeps
 * clients waiting shows at once, not only in the report. With an attack,
 * how many of its connections are open.
 */
void
bench_report_progress(const struct bench_run *run, struct bench_thread *threads,
    const struct bench_attack *attack, uint64_t now, uint64_t *last_ok,
    int print)
{
	uint64_t	ok = 0, failed = 0, oldest;
	int		i;

	for (i = 0; i < run->nthreads; i++) {
		ok += atomic_load_explicit(&threads[i].pub_ok,
		    memory_order_relaxed);
		failed += atomic_load_explicit(&threads[i].pub_failed,
		    memory_order_relaxed);
	}
	if (print) {
		oldest = bench_report_oldest(run, threads);
		fprintf(stderr, "\rackd-bench: %llu s%s: %llu ok, %llu "
		    "failed, %llu ok/s", (unsigned long long)((now -
		    run->t0) / BENCH_NS_S), now < run->measure_start ?
		    " (warmup)" : "", (unsigned long long)ok,
		    (unsigned long long)failed,
		    (unsigned long long)(ok - *last_ok));
		if (oldest != 0 && now > oldest &&
		    now - oldest >= BENCH_REPORT_OLD_NS)
			fprintf(stderr, ", oldest in flight %.1f s",
			    (double)(now - oldest) / 1e9);
		if (attack != NULL)
			fprintf(stderr, ", attack: %llu open",
			    (unsigned long long)atomic_load_explicit(
			    &attack->pub_open, memory_order_relaxed));
		fputs("\033[K", stderr);
	}
	*last_ok = ok;
}
