/* SPDX-License-Identifier: MIT */
/*
 * mono.c: the one clock for deadlines, intervals and ages. Every timer in
 * the daemon (read deadlines, the watchdog, back-off, event summaries,
 * log checks, scrape deadlines) counts milliseconds on CLOCK_MONOTONIC,
 * which setting the wall clock never moves; the wall clock is only for
 * the timestamps of log lines. ackd-bench times latencies and its own
 * deadlines in nanoseconds on the same clock.
 */
#include "config.h"

#include <stdint.h>
#include <time.h>

#include "common.h"

/* Milliseconds on the monotonic clock. */
long long
mono_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* Nanoseconds on the monotonic clock. */
uint64_t
mono_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * UINT64_C(1000000000) +
	    (uint64_t)ts.tv_nsec);
}
