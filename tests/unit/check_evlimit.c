/* SPDX-License-Identifier: MIT */
/*
 * check_evlimit.c: unit tests of the event line summaries in evlimit.c.
 *
 * The decisions are pure: each test drives a table with a clock of its
 * own (plain numbers of milliseconds) and checks which lines are written,
 * which counted, and what each summary says. The last test replays a
 * long pseudo-random mix of sources, kinds and times, and checks the
 * promise the log makes: the lines written plus the summaries' counts are
 * exactly the events, for every kind and source.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ackd.h"
#include "worker.h"

#define CHECK_EVLIMIT_MS	10000	/* the interval of most tests */

static struct evlimit_table	check_evlimit_t;

/* Decide about one line and return the verdict; *s gets any summary. */
static enum evlimit_verdict
check_evlimit_at(const char *event, const char *client, long long now_ms,
    struct evlimit_summary *s)
{
	return (evlimit_decide(&check_evlimit_t, event, client, now_ms, s));
}

/* As check_evlimit_at, asserting that no summary came with it. */
static enum evlimit_verdict
check_evlimit_plain(const char *event, const char *client, long long now_ms)
{
	struct evlimit_summary	s;
	enum evlimit_verdict	v;

	v = check_evlimit_at(event, client, now_ms, &s);
	ck_assert_uint_eq(s.count, 0);
	return (v);
}

/* Assert s is a summary of event from source, count lines, span_ms. */
static void
check_evlimit_is(const struct evlimit_summary *s, const char *event,
    const char *source, unsigned long count, long long span_ms)
{
	ck_assert_str_eq(s->event, event);
	ck_assert_str_eq(s->source, source);
	ck_assert_uint_eq(s->count, count);
	ck_assert_int_eq(s->span_ms, span_ms);
}

START_TEST(check_evlimit_kinds)
{
	/* what a client causes without a message; nothing else */
	ck_assert_int_ge(evlimit_kind("empty"), 0);
	ck_assert_int_ge(evlimit_kind("timeout"), 0);
	ck_assert_int_ge(evlimit_kind("reset"), 0);
	ck_assert_int_ge(evlimit_kind("error"), 0);
	ck_assert_int_ge(evlimit_kind("refused"), 0);
	ck_assert_int_ge(evlimit_kind("proxy-refused"), 0);
	ck_assert_int_ge(evlimit_kind("not-allowed"), 0);
	ck_assert_int_ge(evlimit_kind("tls-failed"), 0);
	ck_assert_int_ne(evlimit_kind("not-allowed"), evlimit_kind("refused"));
	ck_assert_int_eq(evlimit_kind("message"), -1);
	ck_assert_int_eq(evlimit_kind("ack-failed"), -1);
	ck_assert_int_eq(evlimit_kind("log-failed"), -1);
	ck_assert_int_eq(evlimit_kind("worker-start"), -1);
	ck_assert_int_eq(evlimit_kind("stats"), -1);
	ck_assert_int_eq(evlimit_kind("emptyx"), -1);
}
END_TEST

START_TEST(check_evlimit_source)
{
	char	buf[ACKD_ADDRSTRLEN], tiny[4];

	evlimit_source(buf, sizeof(buf), "127.0.0.1:40000");
	ck_assert_str_eq(buf, "127.0.0.1");
	evlimit_source(buf, sizeof(buf), "[::1]:9");
	ck_assert_str_eq(buf, "[::1]");
	evlimit_source(buf, sizeof(buf), "[fe80::1%2]:65535");
	ck_assert_str_eq(buf, "[fe80::1%2]");
	/* what addr_format writes when it cannot: kept whole */
	evlimit_source(buf, sizeof(buf), "?");
	ck_assert_str_eq(buf, "?");
	evlimit_source(buf, sizeof(buf), "host:");
	ck_assert_str_eq(buf, "host:");
	evlimit_source(tiny, sizeof(tiny), "10.0.0.1:1");
	ck_assert_str_eq(tiny, "10.");
}
END_TEST

START_TEST(check_evlimit_messages_always)
{
	int	i;

	evlimit_table_init(&check_evlimit_t, CHECK_EVLIMIT_MS, EVLIMIT_ENTRIES);
	for (i = 0; i < 100; i++) {
		ck_assert_int_eq(check_evlimit_plain("message",
		    "127.0.0.1:1", i), EVLIMIT_WRITE);
		ck_assert_int_eq(check_evlimit_plain("ack-failed",
		    "127.0.0.1:1", i), EVLIMIT_WRITE);
		ck_assert_int_eq(check_evlimit_plain("log-failed",
		    "127.0.0.1:1", i), EVLIMIT_WRITE);
	}
}
END_TEST

START_TEST(check_evlimit_off)
{
	struct evlimit_summary	s[4];
	int			i;

	evlimit_table_init(&check_evlimit_t, 0, EVLIMIT_ENTRIES);
	for (i = 0; i < 100; i++)
		ck_assert_int_eq(check_evlimit_plain("empty", "127.0.0.1:1",
		    i), EVLIMIT_WRITE);
	ck_assert_uint_eq(evlimit_due(&check_evlimit_t, 1000000, 1, s, 4), 0);
}
END_TEST

START_TEST(check_evlimit_burst)
{
	struct evlimit_summary	s[4];

	evlimit_table_init(&check_evlimit_t, CHECK_EVLIMIT_MS, EVLIMIT_ENTRIES);
	/* the first line of the burst, then repeats from other ports */
	ck_assert_int_eq(check_evlimit_plain("empty", "10.0.0.1:1000", 500),
	    EVLIMIT_WRITE);
	ck_assert_int_eq(check_evlimit_plain("empty", "10.0.0.1:1001", 600),
	    EVLIMIT_COUNT);
	ck_assert_int_eq(check_evlimit_plain("empty", "10.0.0.1:1002",
	    500 + CHECK_EVLIMIT_MS - 1), EVLIMIT_COUNT);
	/* nothing is due before the interval is over */
	ck_assert_uint_eq(evlimit_due(&check_evlimit_t,
	    500 + CHECK_EVLIMIT_MS - 1, 0, s, 4), 0);
	ck_assert_uint_eq(evlimit_due(&check_evlimit_t,
	    500 + CHECK_EVLIMIT_MS + 300, 0, s, 4), 1);
	check_evlimit_is(&s[0], "empty", "10.0.0.1", 2, CHECK_EVLIMIT_MS + 300);
	/* the burst goes on: counted, not written again */
	ck_assert_int_eq(check_evlimit_plain("empty", "10.0.0.1:1003",
	    500 + CHECK_EVLIMIT_MS + 400), EVLIMIT_COUNT);
	ck_assert_uint_eq(evlimit_due(&check_evlimit_t,
	    800 + 2 * CHECK_EVLIMIT_MS, 0, s, 4), 1);
	check_evlimit_is(&s[0], "empty", "10.0.0.1", 1, CHECK_EVLIMIT_MS);
	/* a quiet interval frees the entry, without a summary */
	ck_assert_uint_eq(evlimit_due(&check_evlimit_t,
	    800 + 3 * CHECK_EVLIMIT_MS, 0, s, 4), 0);
	ck_assert_uint_eq(evlimit_due(&check_evlimit_t,
	    800 + 9 * CHECK_EVLIMIT_MS, 1, s, 4), 0);
	/* so the next burst starts with a line of its own */
	ck_assert_int_eq(check_evlimit_plain("empty", "10.0.0.1:1004",
	    800 + 9 * CHECK_EVLIMIT_MS), EVLIMIT_WRITE);
}
END_TEST

START_TEST(check_evlimit_next_occurrence)
{
	struct evlimit_summary	s;

	evlimit_table_init(&check_evlimit_t, CHECK_EVLIMIT_MS, EVLIMIT_ENTRIES);
	ck_assert_int_eq(check_evlimit_plain("refused", "10.0.0.1:1", 0),
	    EVLIMIT_WRITE);
	ck_assert_int_eq(check_evlimit_plain("refused", "10.0.0.1:2", 1),
	    EVLIMIT_COUNT);
	ck_assert_int_eq(check_evlimit_plain("refused", "10.0.0.1:3", 2),
	    EVLIMIT_COUNT);
	/* no sweep came: the next one after the interval brings the summary,
	 * and is itself counted in the next, as the burst goes on */
	ck_assert_int_eq(check_evlimit_at("refused", "10.0.0.1:4",
	    CHECK_EVLIMIT_MS + 5, &s), EVLIMIT_COUNT);
	check_evlimit_is(&s, "refused", "10.0.0.1", 2, CHECK_EVLIMIT_MS + 5);
	ck_assert_int_eq(check_evlimit_plain("refused", "10.0.0.1:5",
	    CHECK_EVLIMIT_MS + 6), EVLIMIT_COUNT);
	ck_assert_int_eq(check_evlimit_at("refused", "10.0.0.1:6",
	    2 * CHECK_EVLIMIT_MS + 5, &s), EVLIMIT_COUNT);
	check_evlimit_is(&s, "refused", "10.0.0.1", 2, CHECK_EVLIMIT_MS);
	/* a lone line after a quiet interval is a burst of its own */
	ck_assert_int_eq(check_evlimit_plain("timeout", "10.0.0.2:1", 0),
	    EVLIMIT_WRITE);
	ck_assert_int_eq(check_evlimit_plain("timeout", "10.0.0.2:1",
	    CHECK_EVLIMIT_MS), EVLIMIT_WRITE);
}
END_TEST

START_TEST(check_evlimit_keys)
{
	struct evlimit_summary	s[8];
	size_t			n;

	evlimit_table_init(&check_evlimit_t, CHECK_EVLIMIT_MS, EVLIMIT_ENTRIES);
	/* each kind and each address on its own; the port does not count */
	ck_assert_int_eq(check_evlimit_plain("empty", "10.0.0.1:1", 0),
	    EVLIMIT_WRITE);
	ck_assert_int_eq(check_evlimit_plain("reset", "10.0.0.1:1", 0),
	    EVLIMIT_WRITE);
	ck_assert_int_eq(check_evlimit_plain("empty", "10.0.0.2:1", 0),
	    EVLIMIT_WRITE);
	ck_assert_int_eq(check_evlimit_plain("empty", "[::1]:1", 0),
	    EVLIMIT_WRITE);
	ck_assert_int_eq(check_evlimit_plain("empty", "10.0.0.1:2", 1),
	    EVLIMIT_COUNT);
	ck_assert_int_eq(check_evlimit_plain("empty", "[::1]:2", 1),
	    EVLIMIT_COUNT);
	ck_assert_int_eq(check_evlimit_plain("empty", "[::1]:3", 1),
	    EVLIMIT_COUNT);
	n = evlimit_due(&check_evlimit_t, CHECK_EVLIMIT_MS, 0, s, 8);
	ck_assert_uint_eq(n, 2);
	if (strcmp(s[0].source, "[::1]") == 0)
		s[2] = s[0], s[0] = s[1], s[1] = s[2];
	check_evlimit_is(&s[0], "empty", "10.0.0.1", 1, CHECK_EVLIMIT_MS);
	check_evlimit_is(&s[1], "empty", "[::1]", 2, CHECK_EVLIMIT_MS);
}
END_TEST

/*
 * --allow's refusals (not-allowed) and --max-connections-per-ip's
 * (refused) are both event=refused, but never share a summary: not for
 * one source, nor in the catch-alls of a full table.
 */
START_TEST(check_evlimit_not_allowed_apart)
{
	struct evlimit_summary	s[8];
	size_t			n;
	int			cap;

	for (cap = 0; cap <= EVLIMIT_ENTRIES; cap += EVLIMIT_ENTRIES) {
		evlimit_table_init(&check_evlimit_t, CHECK_EVLIMIT_MS, cap);
		ck_assert_int_eq(check_evlimit_plain("refused", "10.0.0.1:1",
		    0), EVLIMIT_WRITE);
		ck_assert_int_eq(check_evlimit_plain("not-allowed",
		    "10.0.0.1:2", 0), EVLIMIT_WRITE);
		ck_assert_int_eq(check_evlimit_plain("not-allowed",
		    "10.0.0.1:3", 1), EVLIMIT_COUNT);
		ck_assert_int_eq(check_evlimit_plain("not-allowed",
		    "10.0.0.1:4", 2), EVLIMIT_COUNT);
		ck_assert_int_eq(check_evlimit_plain("refused", "10.0.0.1:5",
		    3), EVLIMIT_COUNT);
		n = evlimit_due(&check_evlimit_t, CHECK_EVLIMIT_MS, 0, s, 8);
		ck_assert_uint_eq(n, 2);
		if (strcmp(s[0].event, "not-allowed") == 0)
			s[2] = s[0], s[0] = s[1], s[1] = s[2];
		check_evlimit_is(&s[0], "refused", cap ? "10.0.0.1" : "*", 1,
		    CHECK_EVLIMIT_MS);
		check_evlimit_is(&s[1], "not-allowed", cap ? "10.0.0.1" : "*",
		    2, CHECK_EVLIMIT_MS);
	}
}
END_TEST

START_TEST(check_evlimit_full)
{
	struct evlimit_summary	s[8];
	char			client[32];
	int			i;

	/* two entries: 10.0.0.1 and .2 have theirs, the rest share "*" */
	evlimit_table_init(&check_evlimit_t, CHECK_EVLIMIT_MS, 2);
	for (i = 1; i <= 5; i++) {
		snprintf(client, sizeof(client), "10.0.0.%d:7", i);
		ck_assert_int_eq(check_evlimit_plain("empty", client, 0),
		    i <= 3 ? EVLIMIT_WRITE : EVLIMIT_COUNT);
		ck_assert_int_eq(check_evlimit_plain("empty", client, 1),
		    EVLIMIT_COUNT);
	}
	/* another kind has its own catch-all */
	ck_assert_int_eq(check_evlimit_plain("refused", "10.0.0.9:1", 2),
	    EVLIMIT_WRITE);
	ck_assert_uint_eq(evlimit_due(&check_evlimit_t, CHECK_EVLIMIT_MS, 0, s,
	    8), 3);
	check_evlimit_is(&s[2], "empty", "*", 5, CHECK_EVLIMIT_MS);
	ck_assert_uint_eq(s[0].count + s[1].count, 2);
	/* the catch-all goes quiet and is freed like any entry */
	ck_assert_uint_eq(evlimit_due(&check_evlimit_t, 3 * CHECK_EVLIMIT_MS, 0,
	    s, 8), 0);
	ck_assert_int_eq(check_evlimit_plain("empty", "10.0.0.5:8",
	    3 * CHECK_EVLIMIT_MS), EVLIMIT_WRITE);
}
END_TEST

START_TEST(check_evlimit_flush_batches)
{
	struct evlimit_summary	s[3];
	char			client[32];
	unsigned long		total = 0;
	size_t			n, i, calls = 0;
	int			k;

	evlimit_table_init(&check_evlimit_t, CHECK_EVLIMIT_MS, EVLIMIT_ENTRIES);
	for (k = 0; k < 10; k++) {
		snprintf(client, sizeof(client), "10.0.1.%d:7", k);
		check_evlimit_plain("reset", client, 0);
		check_evlimit_plain("reset", client, 1);
		check_evlimit_plain("reset", client, 2);
	}
	/* before the interval is over: only all takes them, 3 at a time */
	do {
		n = evlimit_due(&check_evlimit_t, 5, 1, s, 3);
		for (i = 0; i < n; i++) {
			ck_assert_uint_eq(s[i].count, 2);
			ck_assert_int_eq(s[i].span_ms, 5);
			total += s[i].count;
		}
		ck_assert_uint_lt(++calls, 10);
	} while (n == 3);
	ck_assert_uint_eq(total, 20);
	/* everything went: the next lines start new bursts */
	ck_assert_uint_eq(evlimit_due(&check_evlimit_t, 6, 1, s, 3), 0);
	ck_assert_int_eq(check_evlimit_plain("reset", "10.0.1.0:9", 6),
	    EVLIMIT_WRITE);
}
END_TEST

/* A small deterministic generator (xorshift), for the replay. */
static unsigned long
check_evlimit_rand(unsigned long *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return (*x);
}

/* Add the summaries due at now (all: every one) to got[kind][source]. */
static void
check_evlimit_collect(long long now, int all, unsigned long got[][8])
{
	struct evlimit_summary	s[5];
	size_t			n, i;
	int			src;

	do {
		n = evlimit_due(&check_evlimit_t, now, all, s, 5);
		for (i = 0; i < n; i++) {
			ck_assert_uint_gt(s[i].count, 0);
			src = strcmp(s[i].source, "*") == 0 ? 7 :
			    s[i].source[strlen(s[i].source) - 1] - '0';
			got[evlimit_kind(s[i].event)][src] += s[i].count;
		}
	} while (n == 5);
}

START_TEST(check_evlimit_adds_up)
{
	static const char *const kinds[] = { "empty", "refused", "timeout" };
	unsigned long	want[EVLIMIT_NKINDS][8], got[EVLIMIT_NKINDS][8];
	unsigned long	x = 88172645463325252UL, r, writes = 0, sum = 0;
	struct evlimit_summary	s;
	long long	now = 0;
	char		client[32];
	int		i, k, src, kind, cap;

	for (cap = 3; cap <= 64; cap += 61) {	/* full at times, and not */
		memset(want, 0, sizeof(want));
		memset(got, 0, sizeof(got));
		evlimit_table_init(&check_evlimit_t, 1000, cap);
		for (i = 0; i < 100000; i++) {
			r = check_evlimit_rand(&x);
			/* mostly bursts, now and then a pause of up to 3 s */
			now += (long long)(r % 997 == 0 ? r % 3000 : r % 3);
			src = (int)((r >> 8) % 7);
			k = (int)((r >> 16) % 3);
			kind = evlimit_kind(kinds[k]);
			snprintf(client, sizeof(client), "10.0.0.%d:%lu", src,
			    r >> 24 & 0xffff);
			want[kind][src]++;
			if (check_evlimit_at(kinds[k], client, now, &s) ==
			    EVLIMIT_WRITE)
				got[kind][src]++, writes++;
			if (s.count > 0)
				got[kind][strcmp(s.source, "*") == 0 ? 7 :
				    src] += s.count;
			if (r % 101 == 0)
				check_evlimit_collect(now, 0, got);
		}
		check_evlimit_collect(now, 1, got);
		/* the catch-all's lines belong to sources we cannot tell apart:
		 * compare per kind, and per source where the table never filled */
		for (kind = 0; kind < EVLIMIT_NKINDS; kind++) {
			unsigned long	w = 0, g = 0;

			for (src = 0; src < 8; src++) {
				w += want[kind][src];
				g += got[kind][src];
				if (cap == 64)
					ck_assert_uint_eq(got[kind][src],
					    want[kind][src]);
			}
			ck_assert_uint_eq(g, w);
			sum += w;
		}
		/* and far fewer lines were written than events happened */
		ck_assert_uint_lt(writes, sum / 10);
		writes = sum = 0;
	}
}
END_TEST

/* The evlimit test suite. */
static Suite *
evlimit_suite(void)
{
	Suite	*s = suite_create("evlimit");
	TCase	*tc;

	tc = tcase_create("keys");
	tcase_add_test(tc, check_evlimit_kinds);
	tcase_add_test(tc, check_evlimit_source);
	tcase_add_test(tc, check_evlimit_messages_always);
	tcase_add_test(tc, check_evlimit_off);
	suite_add_tcase(s, tc);

	tc = tcase_create("intervals");
	tcase_add_test(tc, check_evlimit_burst);
	tcase_add_test(tc, check_evlimit_next_occurrence);
	tcase_add_test(tc, check_evlimit_keys);
	tcase_add_test(tc, check_evlimit_not_allowed_apart);
	tcase_add_test(tc, check_evlimit_full);
	tcase_add_test(tc, check_evlimit_flush_batches);
	suite_add_tcase(s, tc);

	tc = tcase_create("replay");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, check_evlimit_adds_up);
	suite_add_tcase(s, tc);
	return (s);
}

/* Run the suite; the exit status says whether every test passed. */
int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(evlimit_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
