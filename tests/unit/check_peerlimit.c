/* SPDX-License-Identifier: MIT */
/*
 * check_peerlimit.c: unit tests of --max-connections-per-ip (peerlimit.c).
 *
 * One process plays every worker: peerlimit_set_slot says which one acts,
 * peerlimit_clear marks a slot in use, as the master does before a fork.
 * The tests check the limit across slots, that leaving frees, that a full
 * table refuses a new address rather than stop counting, and, against a
 * plain reference model driven by a fixed-seed pseudo-random run, that
 * the counts stay exact through many insertions and deletions in a table
 * small enough for its probe chains to collide.
 */
#include "config.h"

#include <arpa/inet.h>

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ackd.h"

/* Addresses a table of per_slot connections holds in one slot. */
static long
check_peerlimit_room(size_t per_slot)
{
	long	buckets = PEERLIMIT_BUCKETS_MIN;

	while (buckets < PEERLIMIT_BUCKETS_MAX && (size_t)buckets / 2 < per_slot)
		buckets *= 2;
	return (buckets / 2);
}

/* A connection from address n: 10.n as IPv4 if v4, else 2001:db8::n. */
static struct conn
check_peerlimit_conn(uint32_t n, int v4)
{
	struct conn	c;

	memset(&c, 0, sizeof(c));
	c.fd = -1;
	if (v4) {
		c.addr.sin.sin_family = AF_INET;
		c.addr.sin.sin_addr.s_addr = htonl(0x0a000000u | n);
		c.addr.sin.sin_port = htons((uint16_t)n);	/* ignored */
		c.addrlen = sizeof(c.addr.sin);
	} else {
		c.addr.sin6.sin6_family = AF_INET6;
		c.addr.sin6.sin6_addr.s6_addr[0] = 0x20;
		c.addr.sin6.sin6_addr.s6_addr[1] = 0x01;
		c.addr.sin6.sin6_addr.s6_addr[2] = 0x0d;
		c.addr.sin6.sin6_addr.s6_addr[3] = 0xb8;
		memcpy(&c.addr.sin6.sin6_addr.s6_addr[12], &n, 4);
		c.addrlen = sizeof(c.addr.sin6);
	}
	return (c);
}

/* Enter a connection from address n (IPv4) in slot. */
static int
check_peerlimit_enter(int slot, uint32_t n)
{
	struct conn	c = check_peerlimit_conn(n, 1);

	peerlimit_set_slot(slot);
	return (peerlimit_enter(&c));
}

/* Leave entry in slot. */
static void
check_peerlimit_leave(int slot, int entry)
{
	peerlimit_set_slot(slot);
	peerlimit_leave(entry);
}

/* Map a table of max per address for slots of per_slot, slots in use. */
static void
check_peerlimit_setup(int max, size_t per_slot, int slots)
{
	int	i;

	ck_assert_int_eq(peerlimit_init(max, per_slot), 0);
	for (i = 0; i < slots; i++)
		peerlimit_clear(i);
}

START_TEST(check_peerlimit_off)
{
	struct conn	c = check_peerlimit_conn(1, 1);

	ck_assert_int_eq(peerlimit_init(0, 100), 0);
	ck_assert_int_eq(peerlimit_enter(&c), -1);
	peerlimit_leave(-1);
	/* on, but an address with no bytes to count is not counted */
	check_peerlimit_setup(1, 100, 1);
	c.addr.sa.sa_family = AF_UNIX;
	ck_assert_int_eq(peerlimit_enter(&c), -1);
	ck_assert_int_eq(peerlimit_enter(&c), -1);
	peerlimit_unmap();
}
END_TEST

START_TEST(check_peerlimit_across_slots)
{
	int	a0, a1, b;

	check_peerlimit_setup(3, 100, 2);
	ck_assert_int_ge(a0 = check_peerlimit_enter(0, 1), 0);
	/* the same address in the same slot: the same entry */
	ck_assert_int_eq(check_peerlimit_enter(0, 1), a0);
	ck_assert_int_ge(a1 = check_peerlimit_enter(1, 1), 0);
	/* three held, in two workers: the fourth is refused in either */
	ck_assert_int_eq(check_peerlimit_enter(0, 1), ACKD_REFUSED);
	ck_assert_int_eq(check_peerlimit_enter(1, 1), ACKD_REFUSED);
	/* another address, and an IPv6 one ending alike, are apart */
	ck_assert_int_ge(b = check_peerlimit_enter(0, 2), 0);
	ck_assert_int_ne(b, a0);
	{
		struct conn	c6 = check_peerlimit_conn(htonl(0x0a000001u), 0);

		peerlimit_set_slot(1);
		ck_assert_int_ge(peerlimit_enter(&c6), 0);
	}
	/* one leaves: room for one more, from either worker */
	check_peerlimit_leave(1, a1);
	ck_assert_int_ge(check_peerlimit_enter(0, 1), 0);
	ck_assert_int_eq(check_peerlimit_enter(1, 1), ACKD_REFUSED);
	peerlimit_unmap();
}
END_TEST

START_TEST(check_peerlimit_leave_frees)
{
	long	room = check_peerlimit_room(1);
	int	e, i, j;

	/* a table of room entries serves ever new addresses, one at a time */
	check_peerlimit_setup(2, 1, 1);
	for (i = 0; i < 50 * room; i++) {
		ck_assert_int_ge(e = check_peerlimit_enter(0, (uint32_t)i), 0);
		ck_assert_int_lt(e, room);
		ck_assert_int_eq(check_peerlimit_enter(0, (uint32_t)i), e);
		ck_assert_int_eq(check_peerlimit_enter(0, (uint32_t)i),
		    ACKD_REFUSED);
		check_peerlimit_leave(0, e);
		/* one left: one more may come, then none */
		ck_assert_int_eq(check_peerlimit_enter(0, (uint32_t)i), e);
		ck_assert_int_eq(check_peerlimit_enter(0, (uint32_t)i),
		    ACKD_REFUSED);
		for (j = 0; j < 2; j++)
			check_peerlimit_leave(0, e);
	}
	peerlimit_unmap();
}
END_TEST

START_TEST(check_peerlimit_full_refuses)
{
	long	room = check_peerlimit_room(4), i;
	int	first = -1, e;

	check_peerlimit_setup(2, 4, 1);
	for (i = 0; i < room; i++) {
		e = check_peerlimit_enter(0, (uint32_t)i);
		ck_assert_msg(e >= 0, "address %ld of %ld not counted: %d",
		    i, room, e);
		if (i == 0)
			first = e;
	}
	/* full: a new address is refused, never let in uncounted */
	ck_assert_int_eq(check_peerlimit_enter(0, 1000), ACKD_REFUSED);
	ck_assert_int_eq(check_peerlimit_enter(0, 1000), ACKD_REFUSED);
	ck_assert_int_eq(check_peerlimit_enter(0, 1001), ACKD_REFUSED);
	/* an address it holds may still come, up to its limit */
	ck_assert_int_eq(check_peerlimit_enter(0, 0), first);
	ck_assert_int_eq(check_peerlimit_enter(0, 0), ACKD_REFUSED);
	/* other workers' tables are their own */
	peerlimit_clear(1);
	ck_assert_int_ge(check_peerlimit_enter(1, 1000), 0);
	/* an address gone makes room for one new one */
	check_peerlimit_leave(0, first);
	check_peerlimit_leave(0, first);
	ck_assert_int_ge(check_peerlimit_enter(0, 1000), 0);
	ck_assert_int_eq(check_peerlimit_enter(0, 1001), ACKD_REFUSED);
	peerlimit_unmap();
}
END_TEST

START_TEST(check_peerlimit_cap)
{
	long	room = check_peerlimit_room(ACKD_CONNECTIONS_MAX), i;

	/* the largest worker: the table stops at its cap, then refuses */
	ck_assert_int_eq(room, PEERLIMIT_BUCKETS_MAX / 2);
	check_peerlimit_setup(ACKD_PER_IP_MAX, ACKD_CONNECTIONS_MAX, 2);
	for (i = 0; i < room; i++)
		if (check_peerlimit_enter(1, (uint32_t)i) < 0)
			ck_abort_msg("address %ld of %ld not counted", i, room);
	ck_assert_int_eq(check_peerlimit_enter(1, (uint32_t)room),
	    ACKD_REFUSED);
	ck_assert_int_ge(check_peerlimit_enter(0, (uint32_t)room), 0);
	peerlimit_unmap();
}
END_TEST

START_TEST(check_peerlimit_clear_slot)
{
	int	i;

	check_peerlimit_setup(2, 100, 2);
	for (i = 0; i < 2; i++)
		ck_assert_int_ge(check_peerlimit_enter(1, 7), 0);
	ck_assert_int_eq(check_peerlimit_enter(0, 7), ACKD_REFUSED);
	/* worker 1 died: its replacement starts with nothing counted */
	peerlimit_clear(1);
	for (i = 0; i < 2; i++)
		ck_assert_int_ge(check_peerlimit_enter(0, 7), 0);
	ck_assert_int_eq(check_peerlimit_enter(1, 7), ACKD_REFUSED);
	peerlimit_clear(0);
	for (i = 0; i < 2; i++)
		ck_assert_int_ge(check_peerlimit_enter(1, 7), 0);
	peerlimit_unmap();
}
END_TEST

#define CHECK_PEERLIMIT_SLOTS	3
#define CHECK_PEERLIMIT_ADDRS	200
#define CHECK_PEERLIMIT_MAX	4
#define CHECK_PEERLIMIT_HELD	(CHECK_PEERLIMIT_SLOTS * CHECK_PEERLIMIT_ADDRS * \
	CHECK_PEERLIMIT_MAX)

/* The reference model: counts per slot and address, the connections. */
struct check_peerlimit_model {
	int	count[CHECK_PEERLIMIT_SLOTS][CHECK_PEERLIMIT_ADDRS];
	int	entry[CHECK_PEERLIMIT_SLOTS][CHECK_PEERLIMIT_ADDRS];
	int	distinct[CHECK_PEERLIMIT_SLOTS];
	int	held_slot[CHECK_PEERLIMIT_HELD];
	int	held_addr[CHECK_PEERLIMIT_HELD];
	int	nheld;
};

static struct check_peerlimit_model	check_peerlimit_m;
static uint64_t				check_peerlimit_rng = 0x5eed;

/* A pseudo-random number below n (a fixed-seed LCG: reproducible). */
static int
check_peerlimit_rand(int n)
{
	check_peerlimit_rng = check_peerlimit_rng * 6364136223846793005u +
	    1442695040888963407u;
	return ((int)((check_peerlimit_rng >> 33) % (uint64_t)n));
}

/* The connection from address a (half IPv4, half IPv6). */
static struct conn
check_peerlimit_model_conn(int a)
{
	/* far-apart numbers, so the bytes differ everywhere */
	return (check_peerlimit_conn((uint32_t)a * 2654435761u >> 8, a % 2));
}

/* What the model says entering a from slot must do: 1 admit, 0 refuse. */
static int
check_peerlimit_model_admits(int slot, int a, long room)
{
	struct check_peerlimit_model	*m = &check_peerlimit_m;
	int				 s, total = 0;

	for (s = 0; s < CHECK_PEERLIMIT_SLOTS; s++)
		total += m->count[s][a];
	if (total >= CHECK_PEERLIMIT_MAX)
		return (0);
	return (m->count[slot][a] > 0 || m->distinct[slot] < room);
}

/* One random connection from the model's address a, checked. */
static void
check_peerlimit_model_enter(int slot, int a, long room)
{
	struct check_peerlimit_model	*m = &check_peerlimit_m;
	struct conn			 c = check_peerlimit_model_conn(a);
	int				 e;

	peerlimit_set_slot(slot);
	e = peerlimit_enter(&c);
	if (!check_peerlimit_model_admits(slot, a, room)) {
		ck_assert_int_eq(e, ACKD_REFUSED);
		return;
	}
	ck_assert_int_ge(e, 0);
	/* an address's entry stays put while it has connections */
	if (m->count[slot][a] > 0)
		ck_assert_int_eq(e, m->entry[slot][a]);
	else
		m->distinct[slot]++;
	m->entry[slot][a] = e;
	m->count[slot][a]++;
	m->held_slot[m->nheld] = slot;
	m->held_addr[m->nheld++] = a;
}

/* Close the model's connection i. */
static void
check_peerlimit_model_leave(int i)
{
	struct check_peerlimit_model	*m = &check_peerlimit_m;
	int				 slot = m->held_slot[i];
	int				 a = m->held_addr[i];

	check_peerlimit_leave(slot, m->entry[slot][a]);
	if (--m->count[slot][a] == 0)
		m->distinct[slot]--;
	m->nheld--;
	m->held_slot[i] = m->held_slot[m->nheld];
	m->held_addr[i] = m->held_addr[m->nheld];
}

/* A dead worker in slot: the model and the table forget its share. */
static void
check_peerlimit_model_clear(int slot)
{
	struct check_peerlimit_model	*m = &check_peerlimit_m;
	int				 i;

	peerlimit_clear(slot);
	memset(m->count[slot], 0, sizeof(m->count[slot]));
	m->distinct[slot] = 0;
	for (i = 0; i < m->nheld; )
		if (m->held_slot[i] == slot) {
			m->nheld--;
			m->held_slot[i] = m->held_slot[m->nheld];
			m->held_addr[i] = m->held_addr[m->nheld];
		} else
			i++;
}

START_TEST(check_peerlimit_random)
{
	long	room = check_peerlimit_room(24);
	int	step, a, s;

	/* 64 buckets, 32 addresses a slot, 200 addresses: chains collide */
	ck_assert_int_eq(room, 32);
	check_peerlimit_setup(CHECK_PEERLIMIT_MAX, 24, CHECK_PEERLIMIT_SLOTS);
	for (step = 0; step < 40000; step++) {
		if (step % 5000 == 4999)
			check_peerlimit_model_clear(
			    check_peerlimit_rand(CHECK_PEERLIMIT_SLOTS));
		else if (check_peerlimit_m.nheld > 0 &&
		    check_peerlimit_rand(100) < 45)
			check_peerlimit_model_leave(
			    check_peerlimit_rand(check_peerlimit_m.nheld));
		else
			check_peerlimit_model_enter(
			    check_peerlimit_rand(CHECK_PEERLIMIT_SLOTS),
			    check_peerlimit_rand(CHECK_PEERLIMIT_ADDRS), room);
	}
	/* all gone: every address may come again, up to its limit */
	while (check_peerlimit_m.nheld > 0)
		check_peerlimit_model_leave(0);
	for (a = 0; a < CHECK_PEERLIMIT_ADDRS; a += 7)
		for (s = 0; s < CHECK_PEERLIMIT_MAX + 1; s++)
			check_peerlimit_model_enter(s % CHECK_PEERLIMIT_SLOTS,
			    a, room);
	peerlimit_unmap();
}
END_TEST

/* The suite of peerlimit.c's tests. */
static Suite *
peerlimit_suite(void)
{
	Suite	*s = suite_create("peerlimit");
	TCase	*tc;

	tc = tcase_create("basics");
	tcase_add_test(tc, check_peerlimit_off);
	tcase_add_test(tc, check_peerlimit_across_slots);
	tcase_add_test(tc, check_peerlimit_leave_frees);
	tcase_add_test(tc, check_peerlimit_full_refuses);
	tcase_add_test(tc, check_peerlimit_clear_slot);
	suite_add_tcase(s, tc);

	tc = tcase_create("many");
	tcase_set_timeout(tc, 120);	/* generous: valgrind */
	tcase_add_test(tc, check_peerlimit_cap);
	tcase_add_test(tc, check_peerlimit_random);
	suite_add_tcase(s, tc);
	return (s);
}

/* Run the suite; the exit status says whether every test passed. */
int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(peerlimit_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
