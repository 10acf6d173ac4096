/* SPDX-License-Identifier: MIT */
/*
 * mono.c: the one clock for deadlines, intervals and ages. Every timer in
 * the daemon (read deadlines, the watchdog, back-off, event summaries,
 * log checks, scrape deadlines) counts milliseconds on CLOCK_MONOTONIC,
 * which setting the wall clock never moves; the wall clock is only for
 * the timestamps of log lines.
 */
#include "config.h"

#include <time.h>

#include "ackd.h"

/* Milliseconds on the monotonic clock. */
long long
mono_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}
