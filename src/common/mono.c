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

#include <limits.h>
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

/*
 * A poll timeout in ms until deadline_ns, rounded up so that the wait
 * does not end just short of it: -1 (wait for ever) when the deadline
 * is UINT64_MAX (none), 0 when it has passed, at most INT_MAX.
 */
int
mono_until_ms(uint64_t deadline_ns, uint64_t now_ns)
{
	uint64_t	ms;

	if (deadline_ns == UINT64_MAX)
		return (-1);
	if (deadline_ns <= now_ns)
		return (0);
	ms = (deadline_ns - now_ns + 999999) / 1000000;
	return (ms > INT_MAX ? INT_MAX : (int)ms);
}
