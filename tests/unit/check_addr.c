/* SPDX-License-Identifier: MIT */
/*
 * check_addr.c: unit tests of addr.c: numeric addresses parsed from text,
 * --bind values checked by form, and addresses written as text. addr.c is
 * pure, so this links it alone.
 */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <check.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

#ifndef nitems
#define nitems(a)	(sizeof(a) / sizeof((a)[0]))
#endif

/* Parse str with port, then format it back into buf; the formatted length. */
static size_t
check_addr_roundtrip(const char *str, int port, char *buf, size_t size,
    int *family)
{
	struct sockaddr_storage	ss;
	socklen_t		len = 0;

	ck_assert_msg(addr_parse(str, port, &ss, &len) == 0,
	    "'%s' refused", str);
	*family = ss.ss_family;
	ck_assert_msg(len == (ss.ss_family == AF_INET ?
	    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)),
	    "'%s': length %u for family %d", str, (unsigned)len,
	    ss.ss_family);
	return (addr_format(buf, size, (struct sockaddr *)&ss, len));
}

START_TEST(check_addr_ipv4)
{
	struct sockaddr_storage	ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	socklen_t		len;
	char			buf[ACKD_ADDRSTRLEN];
	size_t			n;
	int			family;

	ck_assert_int_eq(addr_parse("127.0.0.1", 9999, &ss, &len), 0);
	ck_assert_int_eq(sin->sin_family, AF_INET);
	ck_assert_uint_eq(len, sizeof(struct sockaddr_in));
	ck_assert_uint_eq(ntohs(sin->sin_port), 9999);
	ck_assert_uint_eq(ntohl(sin->sin_addr.s_addr), INADDR_LOOPBACK);
	n = addr_format(buf, sizeof(buf), (struct sockaddr *)&ss, len);
	ck_assert_str_eq(buf, "127.0.0.1:9999");
	ck_assert_uint_eq(n, strlen(buf));

	n = check_addr_roundtrip("0.0.0.0", 0, buf, sizeof(buf), &family);
	ck_assert_int_eq(family, AF_INET);
	ck_assert_str_eq(buf, "0.0.0.0:0");
	ck_assert_uint_eq(n, 9);
	check_addr_roundtrip("255.255.255.255", 65535, buf, sizeof(buf),
	    &family);
	ck_assert_str_eq(buf, "255.255.255.255:65535");
	check_addr_roundtrip("192.0.2.10", 80, buf, sizeof(buf), &family);
	ck_assert_str_eq(buf, "192.0.2.10:80");
}
END_TEST

START_TEST(check_addr_ipv6)
{
	struct sockaddr_storage	ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t		len;
	char			buf[ACKD_ADDRSTRLEN];
	size_t			n;
	int			family;

	ck_assert_int_eq(addr_parse("::1", 9999, &ss, &len), 0);
	ck_assert_int_eq(sin6->sin6_family, AF_INET6);
	ck_assert_uint_eq(len, sizeof(struct sockaddr_in6));
	ck_assert_uint_eq(ntohs(sin6->sin6_port), 9999);
	ck_assert_msg(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr), "not ::1");
	n = addr_format(buf, sizeof(buf), (struct sockaddr *)&ss, len);
	ck_assert_str_eq(buf, "[::1]:9999");
	ck_assert_uint_eq(n, strlen(buf));

	check_addr_roundtrip("2001:db8::1", 9999, buf, sizeof(buf), &family);
	ck_assert_int_eq(family, AF_INET6);
	ck_assert_str_eq(buf, "[2001:db8::1]:9999");
	/* formatting is canonical whatever the spelling */
	check_addr_roundtrip("2001:0DB8:0000:0000:0000:0000:0000:0001", 1, buf,
	    sizeof(buf), &family);
	ck_assert_str_eq(buf, "[2001:db8::1]:1");
	check_addr_roundtrip("::", 0, buf, sizeof(buf), &family);
	ck_assert_str_eq(buf, "[::]:0");
}
END_TEST

START_TEST(check_addr_ipv4_mapped)
{
	struct sockaddr_storage	ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t		len;
	char			buf[ACKD_ADDRSTRLEN];

	/* stays IPv6, as accept() reports v4 clients on a v6 socket */
	ck_assert_int_eq(addr_parse("::ffff:127.0.0.1", 7, &ss, &len), 0);
	ck_assert_int_eq(ss.ss_family, AF_INET6);
	ck_assert_msg(IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr), "not v4-mapped");
	/* but is written as the IPv4 client it is, on any listener */
	addr_format(buf, sizeof(buf), (struct sockaddr *)&ss, len);
	ck_assert_str_eq(buf, "127.0.0.1:7");
	/* and a truncated one stays terminated */
	ck_assert_uint_eq(addr_format(buf, 5, (struct sockaddr *)&ss,
	    len), 4);
	ck_assert_str_eq(buf, "127.");
}
END_TEST

/* --bind values: numeric addresses and host names, checked by form. */
START_TEST(check_addr_bind_syntax)
{
	static const char	*good[] = { "127.0.0.1", "::", "::1",
	    "fe80::1%1", "localhost", "ip6-localhost", "example.com",
	    "a.b-c.d_e", "host1", "1host", "example.com." };
	static const char	*bad[] = { "", "1.2.3.4.5", "256.0.0.1",
	    "010.0.0.1", "127.1", "1", "::1::", "[::1]", "127.0.0.1:80",
	    " localhost", "localhost ", "local host", "a..b", ".a", "-a",
	    "a/b", "host\n", "caf\xc3\xa9" };
	size_t			i;

	for (i = 0; i < nitems(good); i++)
		ck_assert_msg(addr_bind_syntax(good[i]), "'%s' refused",
		    good[i]);
	for (i = 0; i < nitems(bad); i++)
		ck_assert_msg(!addr_bind_syntax(bad[i]), "'%s' accepted",
		    bad[i]);
}
END_TEST

START_TEST(check_addr_ipv6_scope)
{
	struct sockaddr_storage	ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t		len;
	unsigned		lo = if_nametoindex("lo");
	char			buf[ACKD_ADDRSTRLEN];

	ck_assert_int_eq(addr_parse("fe80::1%1", 9, &ss, &len), 0);
	ck_assert_int_eq(ss.ss_family, AF_INET6);
	ck_assert_uint_eq(sin6->sin6_scope_id, 1);
	ck_assert_uint_eq(ntohs(sin6->sin6_port), 9);
	/* the scope is part of the address: it is written out, numerically */
	ck_assert_uint_gt(addr_format(buf, sizeof(buf),
	    (struct sockaddr *)&ss, len), 0);
	ck_assert_str_eq(buf, "[fe80::1%1]:9");
	if (lo == 0)
		return;		/* no interface called lo here */
	ck_assert_int_eq(addr_parse("fe80::1%lo", 9, &ss, &len), 0);
	ck_assert_uint_eq(sin6->sin6_scope_id, lo);
}
END_TEST

/* Names are never resolved, and garbage is refused. */
START_TEST(check_addr_parse_refuses)
{
	static const char	*bad[] = { "", "localhost", "example.com",
	    "ip6-localhost", "garbage", "1.2.3.4.5", "256.0.0.1",
	    "1.2.3.-4", "::1::", ":::", "12345::", "[::1]", "127.0.0.1:80",
	    "[::1]:80", " 127.0.0.1", "127.0.0.1 ", "127.0.0.1\n", "::1 ",
	    "1e3", "-1", "0x", "2001:db8::g", "fe80::1%", "::ffff:1.2.3",
	    /* inet_aton forms: octal, hex and short dotted quads */
	    "010.0.0.1", "0x7f.0.0.1", "127.1", "1", "2130706433" };
	struct sockaddr_storage	ss;
	socklen_t		len;
	size_t			i;

	for (i = 0; i < nitems(bad); i++)
		ck_assert_msg(addr_parse(bad[i], 1, &ss, &len) == -1,
		    "'%s' accepted", bad[i]);
}
END_TEST

START_TEST(check_addr_format_odd)
{
	struct sockaddr_storage	ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t		len;
	char			buf[ACKD_ADDRSTRLEN];
	const char		*longest =
	    "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535";

	/* the longest address and port fits ACKD_ADDRSTRLEN */
	ck_assert_int_eq(addr_parse("ffff:ffff:ffff:ffff:ffff:ffff:ffff:"
	    "ffff", 65535, &ss, &len), 0);
	ck_assert_uint_eq(addr_format(buf, sizeof(buf),
	    (struct sockaddr *)&ss, len), strlen(longest));
	ck_assert_str_eq(buf, longest);

	/* an unknown family, or a short length: "?" */
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	ck_assert_uint_eq(addr_format(buf, sizeof(buf),
	    (struct sockaddr *)&ss, sizeof(ss)), 1);
	ck_assert_str_eq(buf, "?");
	ck_assert_int_eq(addr_parse("::1", 80, &ss, &len), 0);
	ck_assert_uint_eq(addr_format(buf, sizeof(buf),
	    (struct sockaddr *)sin6, sizeof(struct sockaddr_in)), 1);
	ck_assert_str_eq(buf, "?");
}
END_TEST

/* A short buffer gets a terminated prefix, and the length written. */
START_TEST(check_addr_format_truncates)
{
	struct sockaddr_storage	ss;
	socklen_t		len;
	char			buf[32];

	ck_assert_int_eq(addr_parse("127.0.0.1", 9999, &ss, &len), 0);
	memset(buf, 'Z', sizeof(buf));
	ck_assert_uint_eq(addr_format(buf, 5, (struct sockaddr *)&ss, len),
	    4);
	ck_assert_str_eq(buf, "127.");
	ck_assert_int_eq(buf[5], 'Z');
	ck_assert_uint_eq(addr_format(buf, 1, (struct sockaddr *)&ss, len),
	    0);
	ck_assert_str_eq(buf, "");
	memset(buf, 'Z', sizeof(buf));
	ck_assert_uint_eq(addr_format(buf, 0, (struct sockaddr *)&ss, len),
	    0);
	ck_assert_int_eq(buf[0], 'Z');
	/* exactly enough room */
	ck_assert_uint_eq(addr_format(buf, 15, (struct sockaddr *)&ss, len),
	    14);
	ck_assert_str_eq(buf, "127.0.0.1:9999");
}
END_TEST

/* The addr suite: parsing, checking by form, formatting. */
static Suite *
addr_suite(void)
{
	Suite	*s = suite_create("addr");
	TCase	*tc;

	tc = tcase_create("address");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, check_addr_ipv4);
	tcase_add_test(tc, check_addr_ipv6);
	tcase_add_test(tc, check_addr_ipv4_mapped);
	tcase_add_test(tc, check_addr_ipv6_scope);
	tcase_add_test(tc, check_addr_parse_refuses);
	tcase_add_test(tc, check_addr_bind_syntax);
	tcase_add_test(tc, check_addr_format_odd);
	tcase_add_test(tc, check_addr_format_truncates);
	suite_add_tcase(s, tc);
	return (s);
}

/* Run the suite; the exit status says whether every test passed. */
int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(addr_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
