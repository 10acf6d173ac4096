/* SPDX-License-Identifier: MIT */
/*
 * check_metrics.c: unit tests of the metrics endpoint's pure parts: the
 * request heads http.c judges (every request-line form, the bound, the
 * verdict never changing as more bytes come), its response heads, and
 * metrics.c's escaping and body, built from a scoreboard set by hand.
 *
 * The expected statuses come from the manual's METRICS section, not
 * from http.c.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ackd.h"
#include "master.h"

#define CHECK_METRICS_MAX	ACKD_METRICS_HEAD_MAX

/* Judge a whole request given as a C string, with the daemon's bound. */
static int
check_metrics_parse(const char *req)
{
	return (http_parse(req, strlen(req), CHECK_METRICS_MAX, "/metrics"));
}

/* Requests and the status each must get once complete. */
static const struct {
	const char	*req;
	int		 want;
} check_metrics_requests[] = {
	/* the scrapes */
	{ "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 200 },
	{ "GET /metrics HTTP/1.0\r\n\r\n", 200 },
	{ "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n", 200 },
	{ "GET /metrics?name[]=up HTTP/1.1\r\n\r\n", 200 },
	{ "GET /metrics? HTTP/1.1\r\n\r\n", 200 },
	{ "GET /metrics HTTP/1.1\n\n", 200 },
	{ "GET /metrics HTTP/1.1\nHost: x\n\n", 200 },
	{ "\r\nGET /metrics HTTP/1.1\r\n\r\n", 200 },
	{ "\n\r\n\nGET /metrics HTTP/1.1\r\n\r\n", 200 },
	{ "GET http://h:9/metrics HTTP/1.1\r\n\r\n", 200 },
	{ "GET HTTPS://h/metrics?x HTTP/1.1\r\n\r\n", 200 },
	{ "GET /metrics HTTP/1.9\r\n\r\n", 200 },
	/* headers are not read: odd ones do not matter */
	{ "GET /metrics HTTP/1.1\r\nno colon\r\n\x01\x7f\r\n\r\n", 200 },
	/* another path */
	{ "GET /foo HTTP/1.1\r\n\r\n", 404 },
	{ "GET / HTTP/1.1\r\n\r\n", 404 },
	{ "GET /metrics/ HTTP/1.1\r\n\r\n", 404 },
	{ "GET /metricsx HTTP/1.1\r\n\r\n", 404 },
	{ "GET /METRICS HTTP/1.1\r\n\r\n", 404 },
	{ "GET //metrics HTTP/1.1\r\n\r\n", 404 },
	{ "GET /%6detrics HTTP/1.1\r\n\r\n", 404 },
	{ "GET http://h HTTP/1.1\r\n\r\n", 404 },
	{ "GET /foo HTTP/1.0\n\n", 404 },
	/* another method, path or not */
	{ "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 405 },
	{ "HEAD /metrics HTTP/1.1\r\n\r\n", 405 },
	{ "get /metrics HTTP/1.1\r\n\r\n", 405 },
	{ "GETX /metrics HTTP/1.1\r\n\r\n", 405 },
	{ "PUT /foo HTTP/1.1\r\n\r\n", 405 },
	{ "OPTIONS /metrics HTTP/1.1\r\n\r\n", 405 },
	/* another major version */
	{ "GET /metrics HTTP/2.0\r\n\r\n", 505 },
	{ "GET /metrics HTTP/0.9\r\n\r\n", 505 },
	/* malformed request lines */
	{ "garbage\r\n\r\n", 400 },
	{ "GET\r\n\r\n", 400 },
	{ "GET /metrics\r\n\r\n", 400 },
	{ "GET /metrics \r\n\r\n", 400 },
	{ "GET  /metrics HTTP/1.1\r\n\r\n", 400 },
	{ "GET /metrics  HTTP/1.1\r\n\r\n", 400 },
	{ " GET /metrics HTTP/1.1\r\n\r\n", 400 },
	{ "GET\t/metrics HTTP/1.1\r\n\r\n", 400 },
	{ "GET metrics HTTP/1.1\r\n\r\n", 400 },
	{ "GET * HTTP/1.1\r\n\r\n", 400 },
	{ "OPTIONS * HTTP/1.1\r\n\r\n", 400 },
	{ "GET http:///metrics HTTP/1.1\r\n\r\n", 400 },
	{ "GET /metrics http/1.1\r\n\r\n", 400 },
	{ "GET /metrics HTTP/1.1 \r\n\r\n", 400 },
	{ "GET /metrics HTTP/1.10\r\n\r\n", 400 },
	{ "GET /metrics HTTP/11\r\n\r\n", 400 },
	{ "GET /metrics HTTP/1.x\r\n\r\n", 400 },
	{ "GET /metrics HTTP/1.1\r\r\n\r\n", 400 },
	{ "GET /metrics HTTP/1.1 extra\r\n\r\n", 400 },
	{ "GET /met\x01rics HTTP/1.1\r\n\r\n", 400 },
	{ "GET /met\x80rics HTTP/1.1\r\n\r\n", 400 },
	{ "G(T /metrics HTTP/1.1\r\n\r\n", 400 },
	{ "\rGET /metrics HTTP/1.1\r\n\r\n", 400 },
	{ "\r\n\r\n", 0 },
	/* a TLS ClientHello: refused at its first byte */
	{ "\x16\x03\x01\x02", 400 },
	/* not complete yet */
	{ "", 0 },
	{ "G", 0 },
	{ "GET", 0 },
	{ "GET /met", 0 },
	{ "GET /metrics HTT", 0 },
	{ "GET /metrics HTTP/1.1", 0 },
	{ "GET /metrics HTTP/1.1\r", 0 },
	{ "GET /metrics HTTP/1.1\r\n", 0 },
	{ "GET /metrics HTTP/1.1\r\nHost: x\r\n", 0 },
	{ "GET /metrics HTTP/1.1\r\nHost: x\r\n\r", 0 },
	{ "GET /foo HTTP/1.1\r\n", 0 },
	{ "POST /metrics HTTP/1.1\r\n", 0 },
	{ "GET /metrics HTTP/2.0\r\n", 0 },
	{ "\r", 0 },
	{ "\r\n", 0 },
};

#define CHECK_METRICS_NREQUESTS \
	(int)nitems(check_metrics_requests)

START_TEST(check_metrics_request_forms)
{
	const char	*req = check_metrics_requests[_i].req;
	int		 want = check_metrics_requests[_i].want;

	ck_assert_msg(check_metrics_parse(req) == want,
	    "request %d '%s': %d, want %d", _i, req, check_metrics_parse(req),
	    want);
}
END_TEST

/*
 * Fed a byte at a time, a request gets no verdict, then its verdict for
 * good: the first one never changes as more bytes come.
 */
START_TEST(check_metrics_request_prefixes)
{
	const char	*req = check_metrics_requests[_i].req;
	size_t		 len = strlen(req), k;
	int		 first = 0, got;

	for (k = 0; k <= len; k++) {
		got = http_parse(req, k, CHECK_METRICS_MAX, "/metrics");
		if (first == 0)
			first = got;
		else
			ck_assert_msg(got == first, "request %d after %zu "
			    "bytes: %d, but %d before", _i, k, got, first);
	}
	ck_assert_int_eq(first, check_metrics_requests[_i].want);
}
END_TEST

/* A request whose head takes total bytes: a header pads it out. */
static char *
check_metrics_sized(size_t total, const char *line)
{
	size_t	 head = strlen(line) + strlen("X: \r\n\r\n"), pad;
	char	*buf;

	ck_assert_uint_ge(total, head);
	pad = total - head;
	buf = malloc(total + 1);
	ck_assert_ptr_nonnull(buf);
	snprintf(buf, total + 1, "%sX: %*s\r\n\r\n", line, (int)pad, "");
	memset(buf + strlen(line) + 3, 'a', pad);
	ck_assert_uint_eq(strlen(buf), total);
	return (buf);
}

/* The bound: a head ending at the last byte allowed, and one byte over. */
START_TEST(check_metrics_request_bound)
{
	char	*buf;

	buf = check_metrics_sized(CHECK_METRICS_MAX,
	    "GET /metrics HTTP/1.1\r\n");
	ck_assert_int_eq(check_metrics_parse(buf), 200);
	free(buf);
	buf = check_metrics_sized(CHECK_METRICS_MAX + 1,
	    "GET /metrics HTTP/1.1\r\n");
	ck_assert_int_eq(check_metrics_parse(buf), 431);
	/* at the bound the verdict is in, whatever follows */
	ck_assert_int_eq(http_parse(buf, CHECK_METRICS_MAX, CHECK_METRICS_MAX,
	    "/metrics"), 431);
	ck_assert_int_eq(http_parse(buf, CHECK_METRICS_MAX - 1,
	    CHECK_METRICS_MAX, "/metrics"), 0);
	free(buf);
	/* an error path is judged at the bound too: the head is the limit */
	buf = check_metrics_sized(CHECK_METRICS_MAX + 1,
	    "GET /foo HTTP/1.1\r\n");
	ck_assert_int_eq(check_metrics_parse(buf), 431);
	free(buf);
	/* a malformed line needs no more bytes, even past the bound */
	buf = check_metrics_sized(CHECK_METRICS_MAX * 2, "GET /a b c\r\n");
	ck_assert_int_eq(check_metrics_parse(buf), 400);
	free(buf);
}
END_TEST

/* A request line longer than the bound, and a flood of empty lines. */
START_TEST(check_metrics_request_long_line)
{
	char	buf[CHECK_METRICS_MAX + 64];

	memset(buf, 'a', sizeof(buf));
	memcpy(buf, "GET /", 5);
	ck_assert_int_eq(http_parse(buf, sizeof(buf), CHECK_METRICS_MAX,
	    "/metrics"), 431);
	ck_assert_int_eq(http_parse(buf, CHECK_METRICS_MAX - 1,
	    CHECK_METRICS_MAX, "/metrics"), 0);
	memset(buf, '\n', sizeof(buf));
	ck_assert_int_eq(http_parse(buf, sizeof(buf), CHECK_METRICS_MAX,
	    "/metrics"), 431);
	/* NUL bytes are bytes, not the end of the request */
	memcpy(buf, "GET /metrics\0HTTP/1.1\r\n\r\n", 25);
	ck_assert_int_eq(http_parse(buf, 25, CHECK_METRICS_MAX, "/metrics"),
	    400);
}
END_TEST

/* The path to serve is the caller's. */
START_TEST(check_metrics_request_other_path)
{
	const char	*req = "GET /stats?x HTTP/1.1\r\n\r\n";

	ck_assert_int_eq(http_parse(req, strlen(req), 100, "/stats"), 200);
	ck_assert_int_eq(http_parse(req, strlen(req), 100, "/metrics"), 404);
	ck_assert_int_eq(http_parse(req, strlen(req), 10, "/stats"), 431);
}
END_TEST

/* Every status the endpoint answers has its reason phrase. */
START_TEST(check_metrics_reasons)
{
	ck_assert_str_eq(http_reason(200), "OK");
	ck_assert_str_eq(http_reason(400), "Bad Request");
	ck_assert_str_eq(http_reason(404), "Not Found");
	ck_assert_str_eq(http_reason(405), "Method Not Allowed");
	ck_assert_str_eq(http_reason(431), "Request Header Fields Too Large");
	ck_assert_str_eq(http_reason(500), "Internal Server Error");
	ck_assert_str_eq(http_reason(505), "HTTP Version Not Supported");
}
END_TEST

/* Response heads: the fields, Allow only with 405, and the size check. */
START_TEST(check_metrics_response_head)
{
	char	buf[512];
	size_t	n;

	n = http_head(buf, sizeof(buf), 200, "text/plain", 42);
	ck_assert_uint_eq(n, strlen(buf));
	ck_assert_str_eq(buf, "HTTP/1.1 200 OK\r\n"
	    "Content-Type: text/plain\r\n"
	    "Content-Length: 42\r\n"
	    "Connection: close\r\n\r\n");
	n = http_head(buf, sizeof(buf), 405, "text/plain", 0);
	ck_assert_uint_eq(n, strlen(buf));
	ck_assert_str_eq(buf, "HTTP/1.1 405 Method Not Allowed\r\n"
	    "Content-Type: text/plain\r\n"
	    "Content-Length: 0\r\n"
	    "Allow: GET\r\n"
	    "Connection: close\r\n\r\n");
	ck_assert_uint_eq(http_head(buf, 20, 200, "text/plain", 42), 0);
	ck_assert_uint_eq(http_head(buf, n, 405, "text/plain", 0), 0);
	ck_assert_uint_eq(http_head(buf, n + 1, 405, "text/plain", 0), n);
}
END_TEST

/* Help text escapes backslash and newline; label values the quote too. */
START_TEST(check_metrics_escape)
{
	char	buf[64];

	ck_assert_uint_eq(metrics_escape(buf, sizeof(buf), "plain", 0), 5);
	ck_assert_str_eq(buf, "plain");
	ck_assert_uint_eq(metrics_escape(buf, sizeof(buf), "", 1), 0);
	ck_assert_str_eq(buf, "");
	metrics_escape(buf, sizeof(buf), "a\\b\nc\"d", 0);
	ck_assert_str_eq(buf, "a\\\\b\\nc\"d");
	metrics_escape(buf, sizeof(buf), "a\\b\nc\"d", 1);
	ck_assert_str_eq(buf, "a\\\\b\\nc\\\"d");
	/* like snprintf: the whole length, what fits, always a NUL */
	ck_assert_uint_eq(metrics_escape(buf, 4, "\"\"\"", 1), 6);
	ck_assert_str_eq(buf, "\\\"\\");
	ck_assert_uint_eq(metrics_escape(buf, 1, "abc", 1), 3);
	ck_assert_str_eq(buf, "");
	ck_assert_uint_eq(metrics_escape(NULL, 0, "a\nb", 0), 4);
}
END_TEST

/* How many lines of body are exactly line. */
static int
check_metrics_count(const char *body, const char *line)
{
	const char	*p = body;
	size_t		 len = strlen(line);
	int		 n = 0;

	while ((p = strstr(p, line)) != NULL) {
		if ((p == body || p[-1] == '\n') && p[len] == '\n')
			n++;
		p += len;
	}
	return (n);
}

/*
 * The body from a scoreboard set by hand: each family's HELP and TYPE
 * once, a sample for the slots that counted (none for the others, as no
 * master runs here to call a slot live), counters kept across a worker's
 * death, the master's failed reopens as worker="master", and the
 * master's gauges.
 */
START_TEST(check_metrics_body)
{
	struct scoreboard_slot	*s3, *s7;
	char			 line[256], *body, *master;
	size_t			 len;
	int			 k;

	ck_assert_int_eq(scoreboard_init(), 0);
	s3 = scoreboard_slot(3);
	s7 = scoreboard_slot(7);
	stats_add(&s3->stats, STATS_ACCEPTED, 5);
	stats_add(&s3->stats, STATS_ACKED, 4);
	stats_add(&s3->stats, STATS_BYTES, 1234);
	stats_gauge_add(&s3->stats, STATS_BUSY, 2);
	stats_add(&s7->stats, STATS_ACCEPTED, 1);
	/* slot 7's worker dies; its successor counts on */
	scoreboard_retire(7);
	stats_add(&s7->stats, STATS_ACCEPTED, 2);
	stats_gauge_add(&s7->stats, STATS_QUEUE, 1);
	/* the master's own failed reopens; a worker's of its own */
	stats_add(scoreboard_master(), STATS_REOPEN_FAILED, 2);
	stats_add(&s3->stats, STATS_REOPEN_FAILED, 1);

	body = metrics_body(&len);
	ck_assert_ptr_nonnull(body);
	ck_assert_uint_eq(len, strlen(body));
	ck_assert(len > 0 && body[len - 1] == '\n');
	for (k = 0; k < STATS_NCOUNTERS; k++) {
		snprintf(line, sizeof(line), "# TYPE %s counter",
		    stats_counter_names[k].metric);
		ck_assert_msg(check_metrics_count(body, line) == 1, "%s", line);
		snprintf(line, sizeof(line), "# HELP %s %s",
		    stats_counter_names[k].metric, stats_counter_names[k].help);
		ck_assert_msg(check_metrics_count(body, line) == 1, "%s", line);
	}
	for (k = 0; k < STATS_NGAUGES; k++) {
		snprintf(line, sizeof(line), "# TYPE %s gauge",
		    stats_gauge_names[k].metric);
		ck_assert_msg(check_metrics_count(body, line) == 1, "%s", line);
	}
	ck_assert_int_eq(check_metrics_count(body,
	    "ackd_connections_accepted_total{worker=\"3\"} 5"), 1);
	ck_assert_int_eq(check_metrics_count(body,
	    "ackd_messages_acknowledged_total{worker=\"3\"} 4"), 1);
	ck_assert_int_eq(check_metrics_count(body,
	    "ackd_received_bytes_total{worker=\"3\"} 1234"), 1);
	ck_assert_int_eq(check_metrics_count(body,
	    "ackd_threads_busy{worker=\"3\"} 2"), 1);
	ck_assert_int_eq(check_metrics_count(body,
	    "ackd_connections_accepted_total{worker=\"7\"} 3"), 1);
	ck_assert_int_eq(check_metrics_count(body,
	    "ackd_connections_empty_total{worker=\"7\"} 0"), 1);
	ck_assert_int_eq(check_metrics_count(body,
	    "ackd_queue_depth{worker=\"7\"} 1"), 1);
	ck_assert_int_eq(check_metrics_count(body,
	    "ackd_reopen_failed_total{worker=\"master\"} 2"), 1);
	ck_assert_int_eq(check_metrics_count(body,
	    "ackd_reopen_failed_total{worker=\"3\"} 1"), 1);
	ck_assert_int_eq(check_metrics_count(body,
	    "ackd_reopen_failed_total{worker=\"7\"} 0"), 1);
	/* only the counter the master moves has a master series */
	master = strstr(body, "{worker=\"master\"}");
	ck_assert_ptr_nonnull(master);
	ck_assert_ptr_null(strstr(master + 1, "{worker=\"master\"}"));
	ck_assert_ptr_null(strstr(body, "worker=\"0\""));
	ck_assert_ptr_null(strstr(body, "worker=\"4\""));
	ck_assert_int_eq(check_metrics_count(body, "ackd_workers 0"), 1);
	ck_assert_int_eq(check_metrics_count(body, "ackd_up 1"), 1);
	ck_assert_int_eq(check_metrics_count(body,
	    "# TYPE ackd_build_info gauge"), 1);
	snprintf(line, sizeof(line), "ackd_build_info{version=\"%s\"} 1",
	    PACKAGE_VERSION);
	ck_assert_int_eq(check_metrics_count(body, line), 1);
	free(body);
}
END_TEST

/* The metrics suite: requests, responses, then the body. */
static Suite *
metrics_suite(void)
{
	Suite	*s = suite_create("metrics");
	TCase	*tc;

	tc = tcase_create("request");
	tcase_add_loop_test(tc, check_metrics_request_forms, 0,
	    CHECK_METRICS_NREQUESTS);
	tcase_add_loop_test(tc, check_metrics_request_prefixes, 0,
	    CHECK_METRICS_NREQUESTS);
	tcase_add_test(tc, check_metrics_request_bound);
	tcase_add_test(tc, check_metrics_request_long_line);
	tcase_add_test(tc, check_metrics_request_other_path);
	suite_add_tcase(s, tc);

	tc = tcase_create("response");
	tcase_add_test(tc, check_metrics_reasons);
	tcase_add_test(tc, check_metrics_response_head);
	tcase_add_test(tc, check_metrics_escape);
	tcase_add_test(tc, check_metrics_body);
	suite_add_tcase(s, tc);
	return (s);
}

/* Run the suite; the exit status says whether every test passed. */
int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(metrics_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
