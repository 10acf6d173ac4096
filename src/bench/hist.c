/* SPDX-License-Identifier: MIT */
/*
 * hist.c: a latency histogram in bounded memory, in the manner of
 * HdrHistogram.
 *
 * Values are microseconds. Below HIST_SUB (64) every value has its own
 * bucket. Above, each power of two [2^e, 2^(e+1)) is split into HIST_SUB
 * buckets of width 2^(e-6), so a bucket's highest value, which is what
 * hist_percentile reports, is above every value in it by less than 1/64
 * (1.6%) of that value, and never below it. Values from 2^HIST_TOP_BITS
 * us (about 19 hours) up are clamped into the last bucket and counted in
 * clamped; max stays exact. A histogram is one fixed array: recording
 * never allocates. Pure functions, no I/O, no locks: one per thread,
 * merged at the end.
 */
#include "config.h"

#include <string.h>

#include "bench.h"

/* Index of the highest set bit of v, which is not 0. */
static unsigned
hist_log2(uint64_t v)
{
	return (63u - (unsigned)__builtin_clzll(v));
}

/* The bucket of v, a value not above HIST_MAX_VALUE. */
static size_t
hist_index(uint64_t v)
{
	unsigned	e, shift;

	if (v < HIST_SUB)
		return ((size_t)v);
	e = hist_log2(v);
	shift = e - HIST_SUB_BITS;
	return ((size_t)(e - HIST_SUB_BITS + 1) * HIST_SUB +
	    (size_t)((v >> shift) - HIST_SUB));
}

/* The highest value that falls in bucket i. */
static uint64_t
hist_highest(size_t i)
{
	size_t		octave = i / HIST_SUB, sub = i % HIST_SUB;
	unsigned	shift;

	if (octave == 0)
		return ((uint64_t)i);
	shift = (unsigned)octave - 1;
	return ((((uint64_t)HIST_SUB + sub) << shift) +
	    ((uint64_t)1 << shift) - 1);
}

/* Empty h. */
void
hist_init(struct hist *h)
{
	memset(h, 0, sizeof(*h));
}

/* Count one value of us microseconds. */
void
hist_record(struct hist *h, uint64_t us)
{
	uint64_t	v = us;

	if (v > HIST_MAX_VALUE) {
		v = HIST_MAX_VALUE;
		h->clamped++;
	}
	h->buckets[hist_index(v)]++;
	h->count++;
	h->sum += v;
	if (us > h->max)
		h->max = us;
}

/* Add every value counted in src to dst. */
void
hist_merge(struct hist *dst, const struct hist *src)
{
	size_t	i;

	for (i = 0; i < HIST_BUCKETS; i++)
		dst->buckets[i] += src->buckets[i];
	dst->count += src->count;
	dst->sum += src->sum;
	dst->clamped += src->clamped;
	if (src->max > dst->max)
		dst->max = src->max;
}

/*
 * The pct-th percentile (0-100): the highest value of the first bucket
 * where at least pct% of the values are counted, capped at the exact max
 * (so 100 gives max). Never below the true percentile, and above it by
 * less than 1/64 of it. 0 when empty.
 */
uint64_t
hist_percentile(const struct hist *h, double pct)
{
	uint64_t	rank, seen = 0, v;
	double		want;
	size_t		i;

	if (h->count == 0)
		return (0);
	want = pct / 100.0 * (double)h->count;
	if (!(want >= 1.0))		/* also catches NaN */
		rank = 1;
	else if (want >= (double)h->count)
		rank = h->count;
	else {
		rank = (uint64_t)want;
		if ((double)rank < want)
			rank++;
	}
	for (i = 0; i < HIST_BUCKETS; i++) {
		seen += h->buckets[i];
		if (seen >= rank)
			break;
	}
	/* the last bucket also holds the clamped values: only max bounds it */
	if (i >= HIST_BUCKETS - 1)
		return (h->max);
	v = hist_highest(i);
	return (v < h->max ? v : h->max);
}

/* The largest value recorded, exact even if it was clamped; 0 when empty. */
uint64_t
hist_max(const struct hist *h)
{
	return (h->max);
}

/* The mean of the values (clamped ones count as HIST_MAX_VALUE). */
double
hist_mean(const struct hist *h)
{
	if (h->count == 0)
		return (0.0);
	return ((double)h->sum / (double)h->count);
}

/* How many values were recorded. */
uint64_t
hist_count(const struct hist *h)
{
	return (h->count);
}

/* How many values were above HIST_MAX_VALUE and clamped to it. */
uint64_t
hist_clamped(const struct hist *h)
{
	return (h->clamped);
}
