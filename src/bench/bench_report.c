/* SPDX-License-Identifier: MIT */
/*
 * bench_report.c: ackd-bench's reports: the text one for people, the JSON
 * one with exactly the documented keys, and the progress line on a
 * terminal.
 */
#include "config.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"

#define BENCH_REPORT_OLD_NS	BENCH_NS_S	/* the progress line shows it */

static const char *const bench_report_kind_names[BENCH_NKINDS] = {
	"connect", "reset", "timeout", "other", "unfinished"
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
		"idle", "waiting", "connecting", "sending",
		"waiting for the reply"
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
	} else
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

/* Print the report as one JSON object, with exactly the documented keys. */
void
bench_report_json(FILE *fp, const struct bench_config *cfg,
    const struct bench_report *r)
{
	const struct hist	*h = &r->hist;

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
	    "\"timeout\":%llu,\"other\":%llu,\"unfinished\":%llu},"
	    "\"unfinished_age_us\":%llu,\"rate\":%.1f,",
	    (unsigned long long)r->counts.errors[BENCH_CONNECT],
	    (unsigned long long)r->counts.errors[BENCH_RESET],
	    (unsigned long long)r->counts.errors[BENCH_TIMEOUT],
	    (unsigned long long)r->counts.errors[BENCH_OTHER],
	    (unsigned long long)r->counts.errors[BENCH_UNFINISHED],
	    (unsigned long long)r->counts.unfinished_us,
	    bench_report_rate(r));
	fprintf(fp, "\"latency_us\":{\"p50\":%llu,\"p90\":%llu,\"p99\":%llu,"
	    "\"p999\":%llu,\"max\":%llu,\"mean\":%.1f}}\n",
	    (unsigned long long)hist_percentile(h, 50.0),
	    (unsigned long long)hist_percentile(h, 90.0),
	    (unsigned long long)hist_percentile(h, 99.0),
	    (unsigned long long)hist_percentile(h, 99.9),
	    (unsigned long long)hist_max(h), hist_mean(h));
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
	    "timeout %llu, other %llu, unfinished %llu\n",
	    (unsigned long long)errors,
	    (unsigned long long)r->counts.errors[BENCH_CONNECT],
	    (unsigned long long)r->counts.errors[BENCH_RESET],
	    (unsigned long long)r->counts.errors[BENCH_TIMEOUT],
	    (unsigned long long)r->counts.errors[BENCH_OTHER],
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
}

/* --- the progress line ------------------------------------------------ */

/* When the oldest connection in flight started, of all threads; 0: none. */
static uint64_t
bench_report_oldest(const struct bench_run *run, struct bench_thread *threads)
{
	uint64_t	oldest = 0, v;
	int		i;

	for (i = 0; i < run->cfg->threads; i++) {
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
 * clients waiting shows at once, not only in the report.
 */
void
bench_report_progress(const struct bench_run *run, struct bench_thread *threads,
    uint64_t now, uint64_t *last_ok, int print)
{
	uint64_t	ok = 0, failed = 0, oldest;
	int		i;

	for (i = 0; i < run->cfg->threads; i++) {
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
		fputs("\033[K", stderr);
	}
	*last_ok = ok;
}
