/* SPDX-License-Identifier: MIT */
/*
 * check_proxy.c: unit tests of the PROXY protocol parser and the
 * --proxy-from ranges in proxy.c.
 *
 * Headers are written here from HAProxy's specification: every valid
 * form, then every malformed one we could think of. Each valid header is
 * also judged at every shorter length (always "more", never a verdict)
 * and with bytes after it (the same verdict and length).
 */
#include "config.h"

#include <arpa/inet.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ackd.h"

static const unsigned char check_proxy_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

/* A v2 header into buf: signature, ver_cmd, fam, then body of blen bytes. */
static size_t
check_proxy_v2(unsigned char *buf, unsigned ver_cmd, unsigned fam,
    const void *body, size_t blen)
{
	memcpy(buf, check_proxy_sig, 12);
	buf[12] = (unsigned char)ver_cmd;
	buf[13] = (unsigned char)fam;
	buf[14] = (unsigned char)(blen >> 8);
	buf[15] = (unsigned char)blen;
	if (blen > 0)
		memcpy(buf + 16, body, blen);
	return (16 + blen);
}

/*
 * Judge buf[0..len) at its full length (expecting want), at every
 * shorter length (never DONE; when want is DONE, always MORE), and with
 * junk appended (the same verdict). Returns the full-length header.
 */
static struct proxy_header
check_proxy_judge(const unsigned char *buf, size_t len, enum proxy_result want)
{
	struct proxy_header	 hdr, more;
	unsigned char		*copy;
	enum proxy_result	 r;
	size_t			 i;

	for (i = 0; i < len; i++) {
		/* an exact-size copy, so a read past it is caught by ASan */
		copy = malloc(i + 1);
		ck_assert_ptr_nonnull(copy);
		memcpy(copy, buf, i);
		r = proxy_parse(i > 0 ? copy : NULL, i, &hdr);
		free(copy);
		ck_assert_msg(r != PROXY_DONE, "done at %zu of %zu bytes", i,
		    len);
		if (want == PROXY_DONE)
			ck_assert_msg(r == PROXY_MORE, "not 'more' at %zu of %zu "
			    "bytes (%s)", i, len, hdr.why ? hdr.why : "");
	}
	copy = malloc(len + 64);
	ck_assert_ptr_nonnull(copy);
	memcpy(copy, buf, len);
	r = proxy_parse(copy, len, &hdr);
	ck_assert_msg(r == want, "verdict %d, want %d (why %s)", r, want,
	    hdr.why ? hdr.why : "-");
	if (r != PROXY_MORE) {
		memset(copy + len, 'x', 64);
		copy[len] = '\r';
		ck_assert_int_eq(proxy_parse(copy, len + 64, &more), r);
		ck_assert_uint_eq(more.len, hdr.len);
	}
	free(copy);
	if (r == PROXY_DONE)
		ck_assert_uint_eq(hdr.len, len);
	return (hdr);
}

/* Judge a C string. */
static struct proxy_header
check_proxy_str(const char *s, enum proxy_result want)
{
	return (check_proxy_judge((const unsigned char *)s, strlen(s), want));
}

/* Assert ss is the numeric address host, port port. */
static void
check_proxy_addr(const struct sockaddr_storage *ss, socklen_t len,
    const char *host, int port)
{
	char	buf[ACKD_ADDRSTRLEN], want[ACKD_ADDRSTRLEN];

	addr_format(buf, sizeof(buf), (const struct sockaddr *)ss, len);
	if (strchr(host, ':') != NULL)
		snprintf(want, sizeof(want), "[%s]:%d", host, port);
	else
		snprintf(want, sizeof(want), "%s:%d", host, port);
	ck_assert_str_eq(buf, want);
}

/* Assert the string literal s is refused for reason why. */
#define CHECK_PROXY_BAD(s, why)	check_proxy_bad((s), sizeof(s) - 1, (why))

/* Assert s is refused for reason why. */
static void
check_proxy_bad(const char *s, size_t len, const char *why)
{
	struct proxy_header	hdr;

	hdr = check_proxy_judge((const unsigned char *)s, len, PROXY_INVALID);
	ck_assert_msg(hdr.why != NULL && strcmp(hdr.why, why) == 0,
	    "'%.*s': why %s, want %s", (int)len, s, hdr.why ? hdr.why : "-",
	    why);
}

START_TEST(check_proxy_v1_tcp4)
{
	struct proxy_header	hdr;

	hdr = check_proxy_str("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443"
	    "\r\n", PROXY_DONE);
	ck_assert_int_eq(hdr.version, 1);
	ck_assert_int_eq(hdr.command, PROXY_CMD_PROXY);
	check_proxy_addr(&hdr.src, hdr.srclen, "192.168.0.1", 56324);
	check_proxy_addr(&hdr.dst, hdr.dstlen, "192.168.0.11", 443);
	hdr = check_proxy_str("PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n",
	    PROXY_DONE);
	check_proxy_addr(&hdr.src, hdr.srclen, "0.0.0.0", 0);
	check_proxy_addr(&hdr.dst, hdr.dstlen, "255.255.255.255", 65535);
	/* the spec's longest TCP4 line: 56 bytes */
	hdr = check_proxy_str("PROXY TCP4 255.255.255.255 255.255.255.255 "
	    "65535 65535\r\n", PROXY_DONE);
	ck_assert_uint_eq(hdr.len, 56);
}
END_TEST

START_TEST(check_proxy_v1_tcp6)
{
	struct proxy_header	hdr;
	char			line[160];

	hdr = check_proxy_str("PROXY TCP6 2001:db8::1 ::1 1234 9999\r\n",
	    PROXY_DONE);
	ck_assert_int_eq(hdr.command, PROXY_CMD_PROXY);
	check_proxy_addr(&hdr.src, hdr.srclen, "2001:db8::1", 1234);
	check_proxy_addr(&hdr.dst, hdr.dstlen, "::1", 9999);
	hdr = check_proxy_str("PROXY TCP6 FE80:0:0:0:0:0:0:ABCD :: 1 2\r\n",
	    PROXY_DONE);
	check_proxy_addr(&hdr.src, hdr.srclen, "fe80::abcd", 1);
	/* the spec's longest TCP6 line: 104 bytes */
	snprintf(line, sizeof(line), "PROXY TCP6 %s %s 65535 65535\r\n",
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	hdr = check_proxy_str(line, PROXY_DONE);
	ck_assert_uint_eq(hdr.len, 104);
	hdr = check_proxy_str("PROXY TCP6 ::ffff:10.0.0.1 ::1 5 6\r\n",
	    PROXY_DONE);
	ck_assert_int_eq(hdr.src.ss_family, AF_INET6);
}
END_TEST

START_TEST(check_proxy_v1_unknown)
{
	struct proxy_header	hdr;
	char			line[160];

	hdr = check_proxy_str("PROXY UNKNOWN\r\n", PROXY_DONE);
	ck_assert_int_eq(hdr.command, PROXY_CMD_UNKNOWN);
	ck_assert_uint_eq(hdr.len, 15);
	/* whatever follows UNKNOWN is ignored */
	hdr = check_proxy_str("PROXY UNKNOWN 1.2.3.4 garbage \x01\xff\r\n",
	    PROXY_DONE);
	ck_assert_int_eq(hdr.command, PROXY_CMD_UNKNOWN);
	/* the spec's worst case: 107 bytes */
	snprintf(line, sizeof(line), "PROXY UNKNOWN %s %s 65535 65535\r\n",
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	ck_assert_uint_eq(strlen(line), PROXY_V1_MAX);
	hdr = check_proxy_str(line, PROXY_DONE);
	ck_assert_uint_eq(hdr.len, PROXY_V1_MAX);
}
END_TEST

/* The message after the header is left alone. */
START_TEST(check_proxy_v1_then_message)
{
	const char		*s = "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\nhello";
	struct proxy_header	 hdr;

	ck_assert_int_eq(proxy_parse((const unsigned char *)s, strlen(s), &hdr),
	    PROXY_DONE);
	ck_assert_uint_eq(hdr.len, strlen(s) - 5);
}
END_TEST

START_TEST(check_proxy_v1_malformed)
{
	char	line[200];

	CHECK_PROXY_BAD("GET / HTTP/1.0\r\n", "bad-signature");
	CHECK_PROXY_BAD("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
	    "bad-signature");
	CHECK_PROXY_BAD("PROXX", "bad-signature");
	CHECK_PROXY_BAD("PROXY\tTCP4", "bad-signature");
	CHECK_PROXY_BAD("PROXY\r\n", "bad-signature");
	CHECK_PROXY_BAD("\x16\x03\x01", "bad-signature");
	/* no CRLF: a lone LF, a lone CR, or nothing within 107 bytes */
	CHECK_PROXY_BAD("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", "v1-bad-crlf");
	CHECK_PROXY_BAD("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX",
	    "v1-bad-crlf");
	CHECK_PROXY_BAD("PROXY UNKNOWN\n\r\n", "v1-bad-crlf");
	CHECK_PROXY_BAD("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n",
	    "v1-bad-crlf");
	memset(line, 'A', sizeof(line));
	memcpy(line, "PROXY UNKNOWN ", 14);
	check_proxy_bad(line, PROXY_V1_MAX, "v1-too-long");
	line[PROXY_V1_MAX - 1] = '\r';	/* the CR fits, the LF would not */
	line[PROXY_V1_MAX] = '\n';
	check_proxy_bad(line, PROXY_V1_MAX + 1, "v1-too-long");
	/* protocols */
	CHECK_PROXY_BAD("PROXY \r\n", "v1-bad-protocol");
	CHECK_PROXY_BAD("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",
	    "v1-bad-protocol");
	CHECK_PROXY_BAD("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
	    "v1-bad-protocol");
	CHECK_PROXY_BAD("PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n",
	    "v1-bad-protocol");
	CHECK_PROXY_BAD("PROXY UNKNOWNX\r\n", "v1-bad-protocol");
	CHECK_PROXY_BAD("PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
	    "v1-bad-protocol");
	/* the number of fields, and the spaces between them */
	CHECK_PROXY_BAD("PROXY TCP4\r\n", "v1-bad-line");
	CHECK_PROXY_BAD("PROXY TCP4 \r\n", "v1-bad-line");
	CHECK_PROXY_BAD("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", "v1-bad-line");
	CHECK_PROXY_BAD("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
	    "v1-bad-line");
	CHECK_PROXY_BAD("PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n",
	    "v1-bad-line");
	CHECK_PROXY_BAD("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n",
	    "v1-bad-line");
	CHECK_PROXY_BAD("PROXY TCP4 1.2.3.4 5.6.7.8 1\t2\r\n",
	    "v1-bad-line");
	/* addresses: leading zeros, ranges, families, forms */
	CHECK_PROXY_BAD("PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n",
	    "v1-bad-address");
	CHECK_PROXY_BAD("PROXY TCP4 1.2.3.04 5.6.7.8 1 2\r\n",
	    "v1-bad-address");
	CHECK_PROXY_BAD("PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n",
	    "v1-bad-address");
	CHECK_PROXY_BAD("PROXY TCP4 1.2.3.1000 5.6.7.8 1 2\r\n",
	    "v1-bad-address");
	CHECK_PROXY_BAD("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n",
	    "v1-bad-address");
	CHECK_PROXY_BAD("PROXY TCP4 1.2.3.4.5 5.6.7.8 1 2\r\n",
	    "v1-bad-address");
	CHECK_PROXY_BAD("PROXY TCP4 1..3.4 5.6.7.8 1 2\r\n",
	    "v1-bad-address");
	CHECK_PROXY_BAD("PROXY TCP4 1.2.3.4. 5.6.7.8 1 2\r\n",
	    "v1-bad-address");
	CHECK_PROXY_BAD("PROXY TCP4 -1.2.3.4 5.6.7.8 1 2\r\n",
	    "v1-bad-address");
	CHECK_PROXY_BAD("PROXY TCP4 ::1 5.6.7.8 1 2\r\n",
	    "v1-bad-address");
	CHECK_PROXY_BAD("PROXY TCP4 1.2.3.4 ::1 1 2\r\n",
	    "v1-bad-address");
	CHECK_PROXY_BAD("PROXY TCP6 1.2.3.4 ::1 1 2\r\n",
	    "v1-bad-address");
	CHECK_PROXY_BAD("PROXY TCP6 ::1 1.2.3.4 1 2\r\n",
	    "v1-bad-address");
	CHECK_PROXY_BAD("PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n",
	    "v1-bad-address");
	CHECK_PROXY_BAD("PROXY TCP6 1::2::3 ::1 1 2\r\n",
	    "v1-bad-address");
	CHECK_PROXY_BAD("PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n",
	    "v1-bad-address");
	CHECK_PROXY_BAD("PROXY TCP6 [::1] ::1 1 2\r\n", "v1-bad-address");
	CHECK_PROXY_BAD("PROXY TCP6 12345::1 ::1 1 2\r\n",
	    "v1-bad-address");
	CHECK_PROXY_BAD("PROXY TCP4 localhost 5.6.7.8 1 2\r\n",
	    "v1-bad-address");
	/* ports: leading zeros, range, signs, forms */
	CHECK_PROXY_BAD("PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",
	    "v1-bad-port");
	CHECK_PROXY_BAD("PROXY TCP4 1.2.3.4 5.6.7.8 1 00\r\n",
	    "v1-bad-port");
	CHECK_PROXY_BAD("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",
	    "v1-bad-port");
	CHECK_PROXY_BAD("PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n",
	    "v1-bad-port");
	CHECK_PROXY_BAD("PROXY TCP4 1.2.3.4 5.6.7.8 1 123456\r\n",
	    "v1-bad-port");
	CHECK_PROXY_BAD("PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",
	    "v1-bad-port");
	CHECK_PROXY_BAD("PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n",
	    "v1-bad-port");
	CHECK_PROXY_BAD("PROXY TCP4 1.2.3.4 5.6.7.8 0x1 2\r\n",
	    "v1-bad-port");
	/* a NUL in the line */
	CHECK_PROXY_BAD("PROXY TCP4 1.2.3.4\0 5.6.7.8 1 2\r\n",
	    "v1-bad-address");
}
END_TEST

/* A header still without its CRLF is "more" up to 107 bytes, not later. */
START_TEST(check_proxy_v1_more)
{
	char			line[PROXY_V1_MAX + 1];
	struct proxy_header	hdr;

	memset(line, 'A', sizeof(line));
	memcpy(line, "PROXY UNKNOWN ", 14);
	ck_assert_int_eq(proxy_parse((unsigned char *)line, PROXY_V1_MAX - 1,
	    &hdr), PROXY_MORE);
	line[PROXY_V1_MAX - 2] = '\r';
	ck_assert_int_eq(proxy_parse((unsigned char *)line, PROXY_V1_MAX - 1,
	    &hdr), PROXY_MORE);
	line[PROXY_V1_MAX - 1] = '\n';
	ck_assert_int_eq(proxy_parse((unsigned char *)line, PROXY_V1_MAX,
	    &hdr), PROXY_DONE);
	ck_assert_int_eq(proxy_parse(NULL, 0, &hdr), PROXY_MORE);
}
END_TEST

START_TEST(check_proxy_v2_inet)
{
	unsigned char		buf[64], body[12] = {
		192, 168, 1, 2, 10, 0, 0, 1, 0xc3, 0x50, 0x27, 0x0f
	};
	struct proxy_header	hdr;
	size_t			len;

	len = check_proxy_v2(buf, 0x21, 0x11, body, sizeof(body));
	hdr = check_proxy_judge(buf, len, PROXY_DONE);
	ck_assert_int_eq(hdr.version, 2);
	ck_assert_int_eq(hdr.command, PROXY_CMD_PROXY);
	ck_assert_uint_eq(hdr.len, 28);
	check_proxy_addr(&hdr.src, hdr.srclen, "192.168.1.2", 50000);
	check_proxy_addr(&hdr.dst, hdr.dstlen, "10.0.0.1", 9999);
}
END_TEST

START_TEST(check_proxy_v2_inet6)
{
	unsigned char		buf[64], body[36];
	struct proxy_header	hdr;
	size_t			len;

	memset(body, 0, sizeof(body));
	inet_pton(AF_INET6, "2001:db8::7", body);
	inet_pton(AF_INET6, "::1", body + 16);
	body[32] = 0x04;	/* 1234 */
	body[33] = 0xd2;
	body[34] = 0xff;	/* 65535 */
	body[35] = 0xff;
	len = check_proxy_v2(buf, 0x21, 0x21, body, sizeof(body));
	hdr = check_proxy_judge(buf, len, PROXY_DONE);
	ck_assert_int_eq(hdr.command, PROXY_CMD_PROXY);
	check_proxy_addr(&hdr.src, hdr.srclen, "2001:db8::7", 1234);
	check_proxy_addr(&hdr.dst, hdr.dstlen, "::1", 65535);
}
END_TEST

/* LOCAL: the family and the body are ignored, whatever they say. */
START_TEST(check_proxy_v2_local)
{
	unsigned char		buf[128], body[40];
	struct proxy_header	hdr;
	size_t			len;

	len = check_proxy_v2(buf, 0x20, 0x00, NULL, 0);
	hdr = check_proxy_judge(buf, len, PROXY_DONE);
	ck_assert_int_eq(hdr.command, PROXY_CMD_LOCAL);
	ck_assert_uint_eq(hdr.len, 16);
	memset(body, 0xee, sizeof(body));
	len = check_proxy_v2(buf, 0x20, 0x11, body, sizeof(body));
	hdr = check_proxy_judge(buf, len, PROXY_DONE);
	ck_assert_int_eq(hdr.command, PROXY_CMD_LOCAL);
	ck_assert_uint_eq(hdr.len, 56);
	len = check_proxy_v2(buf, 0x20, 0xff, body, 3);
	hdr = check_proxy_judge(buf, len, PROXY_DONE);
	ck_assert_int_eq(hdr.command, PROXY_CMD_LOCAL);
}
END_TEST

/* Families without addresses we use: the TCP peer stands in. */
START_TEST(check_proxy_v2_unspec)
{
	unsigned char		buf[512], body[260];
	struct proxy_header	hdr;
	size_t			len;
	unsigned		fams[] = { 0x00, 0x01, 0x02, 0x10, 0x12, 0x20,
	    0x22, 0x30, 0x31, 0x32 };
	size_t			need[] = { 0, 0, 0, 12, 12, 36, 36, 216, 216,
	    216 };
	size_t			i;

	memset(body, 0, sizeof(body));
	for (i = 0; i < nitems(fams); i++) {
		len = check_proxy_v2(buf, 0x21, fams[i], body, need[i]);
		hdr = check_proxy_judge(buf, len, PROXY_DONE);
		ck_assert_msg(hdr.command == PROXY_CMD_UNKNOWN, "family %#x",
		    fams[i]);
	}
}
END_TEST

/* TLVs after the addresses are skipped; their lengths must add up. */
START_TEST(check_proxy_v2_tlvs)
{
	unsigned char		buf[600], body[300];
	struct proxy_header	hdr;
	size_t			len, n = 12;

	memset(body, 0, sizeof(body));
	body[0] = 127;
	body[3] = 9;
	body[8] = 0x30;		/* port 12345 */
	body[9] = 0x39;
	/* ALPN "h2", an empty NOOP, a unique id of 128 bytes */
	memcpy(body + n, "\x01\x00\x02h2", 5);
	n += 5;
	memcpy(body + n, "\x04\x00\x00", 3);
	n += 3;
	memcpy(body + n, "\x05\x00\x80", 3);
	n += 3 + 128;
	len = check_proxy_v2(buf, 0x21, 0x11, body, n);
	hdr = check_proxy_judge(buf, len, PROXY_DONE);
	ck_assert_int_eq(hdr.command, PROXY_CMD_PROXY);
	check_proxy_addr(&hdr.src, hdr.srclen, "127.0.0.9", 12345);
	ck_assert_uint_eq(hdr.len, 16 + n);
	/* a TLV longer than what is left, and stray bytes */
	body[12 + 2] = 3;
	len = check_proxy_v2(buf, 0x21, 0x11, body, 12 + 5);
	hdr = check_proxy_judge(buf, len, PROXY_INVALID);
	ck_assert_str_eq(hdr.why, "v2-bad-tlv");
	len = check_proxy_v2(buf, 0x21, 0x11, body, 12 + 2);
	hdr = check_proxy_judge(buf, len, PROXY_INVALID);
	ck_assert_str_eq(hdr.why, "v2-bad-tlv");
	len = check_proxy_v2(buf, 0x21, 0x11, body, 12 + 1);
	hdr = check_proxy_judge(buf, len, PROXY_INVALID);
	ck_assert_str_eq(hdr.why, "v2-bad-tlv");
	/* TLVs after an UNSPEC (empty) address block */
	len = check_proxy_v2(buf, 0x21, 0x00, "\x04\x00\x01z", 4);
	hdr = check_proxy_judge(buf, len, PROXY_DONE);
	ck_assert_int_eq(hdr.command, PROXY_CMD_UNKNOWN);
}
END_TEST

START_TEST(check_proxy_v2_malformed)
{
	unsigned char		buf[PROXY_HEADER_MAX + 64], body[64];
	struct proxy_header	hdr;
	size_t			len, i;
	static const struct {
		unsigned	 ver_cmd, fam;
		size_t		 blen;
		const char	*why;
	} bad[] = {
		{ 0x11, 0x11, 12, "v2-bad-version" },
		{ 0x31, 0x11, 12, "v2-bad-version" },
		{ 0x01, 0x11, 12, "v2-bad-version" },
		{ 0xf1, 0x11, 12, "v2-bad-version" },
		{ 0x22, 0x11, 12, "v2-bad-command" },
		{ 0x2f, 0x11, 12, "v2-bad-command" },
		{ 0x21, 0x41, 12, "v2-bad-family" },
		{ 0x21, 0xf1, 12, "v2-bad-family" },
		{ 0x21, 0x13, 12, "v2-bad-family" },
		{ 0x21, 0x1f, 12, "v2-bad-family" },
		/* the length does not hold the family's addresses */
		{ 0x21, 0x11, 0, "v2-bad-length" },
		{ 0x21, 0x11, 11, "v2-bad-length" },
		{ 0x21, 0x21, 12, "v2-bad-length" },
		{ 0x21, 0x21, 35, "v2-bad-length" },
		{ 0x21, 0x31, 36, "v2-bad-length" },
	};

	memset(body, 0, sizeof(body));
	for (i = 0; i < nitems(bad); i++) {
		len = check_proxy_v2(buf, bad[i].ver_cmd, bad[i].fam, body,
		    bad[i].blen);
		hdr = check_proxy_judge(buf, len, PROXY_INVALID);
		ck_assert_msg(strcmp(hdr.why, bad[i].why) == 0,
		    "%#x %#x %zu: %s, want %s", bad[i].ver_cmd, bad[i].fam,
		    bad[i].blen, hdr.why, bad[i].why);
	}
	/* signatures wrong at each of their 12 bytes */
	for (i = 0; i < 12; i++) {
		len = check_proxy_v2(buf, 0x21, 0x11, body, 12);
		buf[i] ^= 0x40;
		check_proxy_bad((char *)buf, len, "bad-signature");
	}
	/* a length past PROXY_HEADER_MAX: refused at the 16th byte */
	check_proxy_v2(buf, 0x21, 0x11, body, 0);
	len = PROXY_HEADER_MAX - 16 + 1;
	buf[14] = (unsigned char)(len >> 8);
	buf[15] = (unsigned char)len;
	check_proxy_bad((char *)buf, 16, "v2-too-long");
	buf[14] = buf[15] = 0xff;
	check_proxy_bad((char *)buf, 16, "v2-too-long");
	/* exactly PROXY_HEADER_MAX is allowed */
	memset(buf + 16, 0, sizeof(buf) - 16);
	len = PROXY_HEADER_MAX - 16;
	buf[14] = (unsigned char)(len >> 8);
	buf[15] = (unsigned char)len;
	buf[16 + 12] = 0x04;	/* one NOOP TLV fills the rest */
	buf[16 + 13] = (unsigned char)((len - 15) >> 8);
	buf[16 + 14] = (unsigned char)(len - 15);
	hdr = check_proxy_judge(buf, PROXY_HEADER_MAX, PROXY_DONE);
	ck_assert_uint_eq(hdr.len, PROXY_HEADER_MAX);
}
END_TEST

/* Truncated v2 headers are "more" at every length; never a verdict. */
START_TEST(check_proxy_v2_truncated)
{
	unsigned char		buf[64], body[36];
	struct proxy_header	hdr;
	size_t			len, i;

	memset(body, 1, sizeof(body));
	len = check_proxy_v2(buf, 0x21, 0x21, body, sizeof(body));
	for (i = 1; i < len; i++)
		ck_assert_int_eq(proxy_parse(buf, i, &hdr), PROXY_MORE);
	ck_assert_int_eq(proxy_parse(buf, len, &hdr), PROXY_DONE);
}
END_TEST

/* Parse s as a range and report whether the address a matches it. */
static int
check_proxy_in(const char *range, const char *a)
{
	struct proxy_cidr	c;
	struct sockaddr_storage	ss;
	socklen_t		sslen;

	ck_assert_msg(proxy_cidr_parse(range, strlen(range), &c) == 0,
	    "'%s' refused", range);
	ck_assert_msg(addr_parse(a, 80, &ss, &sslen) == 0, "'%s'", a);
	return (proxy_cidr_match(&c, (struct sockaddr *)&ss, sslen));
}

START_TEST(check_proxy_cidr_parse)
{
	static const char *good[] = { "10.0.0.0/8", "127.0.0.1", "0.0.0.0/0",
	    "192.168.1.77/24", "1.2.3.4/32", "::1", "::/0", "fe80::/10",
	    "2001:db8::/32", "2001:db8::1/128", "::ffff:10.0.0.1/128" };
	static const char *bad[] = { "", "/8", "10.0.0.0/", "10.0.0.0/33",
	    "10.0.0.0/08", "10.0.0.0/-1", "10.0.0.0/8/8", "10.0.0/8",
	    "010.0.0.0/8", "10.0.0.0 /8", " 10.0.0.0", "::1/129", "::1/1000",
	    "host.example", "10.0.0.0/8,", "1.2.3.4/+8", "[::1]", "::1/",
	    "fe80::1%eth0", "256.0.0.0/8" };
	struct proxy_cidr	c;
	size_t			i;

	for (i = 0; i < nitems(good); i++)
		ck_assert_msg(proxy_cidr_parse(good[i], strlen(good[i]), &c) ==
		    0, "'%s' refused", good[i]);
	for (i = 0; i < nitems(bad); i++)
		ck_assert_msg(proxy_cidr_parse(bad[i], strlen(bad[i]), &c) ==
		    -1, "'%s' taken", bad[i]);
	ck_assert_int_eq(proxy_cidr_parse("1.2.3.4", 7, &c), 0);
	ck_assert_int_eq(c.family, AF_INET);
	ck_assert_int_eq(c.bits, 32);
	ck_assert_int_eq(proxy_cidr_parse("::1", 3, &c), 0);
	ck_assert_int_eq(c.family, AF_INET6);
	ck_assert_int_eq(c.bits, 128);
	/* host bits are cleared */
	ck_assert_int_eq(proxy_cidr_parse("192.168.1.77/20", 15, &c), 0);
	ck_assert_int_eq(c.addr[2], 0);
	ck_assert_int_eq(c.addr[3], 0);
	/* only len bytes are read: "10.0.0.0/8" of "10.0.0.0/8,::1" */
	ck_assert_int_eq(proxy_cidr_parse("10.0.0.0/8,::1", 10, &c), 0);
	ck_assert_int_eq(c.bits, 8);
}
END_TEST

START_TEST(check_proxy_cidr_match)
{
	ck_assert(check_proxy_in("127.0.0.0/8", "127.0.0.1"));
	ck_assert(check_proxy_in("127.0.0.0/8", "127.255.1.2"));
	ck_assert(!check_proxy_in("127.0.0.0/8", "128.0.0.1"));
	ck_assert(!check_proxy_in("10.0.0.0/8", "127.0.0.1"));
	ck_assert(check_proxy_in("10.1.2.3", "10.1.2.3"));
	ck_assert(!check_proxy_in("10.1.2.3", "10.1.2.4"));
	ck_assert(check_proxy_in("0.0.0.0/0", "203.0.113.9"));
	ck_assert(!check_proxy_in("0.0.0.0/0", "::1"));
	ck_assert(check_proxy_in("192.168.0.0/23", "192.168.1.255"));
	ck_assert(!check_proxy_in("192.168.0.0/23", "192.168.2.0"));
	ck_assert(check_proxy_in("10.0.0.0/31", "10.0.0.1"));
	ck_assert(!check_proxy_in("10.0.0.0/31", "10.0.0.2"));
	ck_assert(check_proxy_in("::1", "::1"));
	ck_assert(!check_proxy_in("::1", "::2"));
	ck_assert(!check_proxy_in("::1", "127.0.0.1"));
	ck_assert(check_proxy_in("fe80::/10", "febf::1"));
	ck_assert(!check_proxy_in("fe80::/10", "fec0::1"));
	ck_assert(check_proxy_in("::/0", "2001:db8::1"));
	ck_assert(check_proxy_in("2001:db8::/33", "2001:db8:7fff::1"));
	ck_assert(!check_proxy_in("2001:db8::/33", "2001:db8:8000::1"));
	/* a dual-stack socket shows IPv4 peers as ::ffff:a.b.c.d */
	ck_assert(check_proxy_in("127.0.0.0/8", "::ffff:127.0.0.1"));
	ck_assert(!check_proxy_in("10.0.0.0/8", "::ffff:127.0.0.1"));
	ck_assert(check_proxy_in("::ffff:0:0/96", "::ffff:127.0.0.1"));
}
END_TEST

START_TEST(check_proxy_cidr_any)
{
	struct proxy_cidr	list[2];
	struct sockaddr_storage	ss;
	socklen_t		sslen;

	ck_assert_int_eq(proxy_cidr_parse("10.0.0.0/8", 10, &list[0]), 0);
	ck_assert_int_eq(proxy_cidr_parse("::1", 3, &list[1]), 0);
	ck_assert_int_eq(addr_parse("::1", 1, &ss, &sslen), 0);
	ck_assert(proxy_cidr_any(list, 2, (struct sockaddr *)&ss, sslen));
	ck_assert(!proxy_cidr_any(list, 1, (struct sockaddr *)&ss, sslen));
	ck_assert(!proxy_cidr_any(list, 0, (struct sockaddr *)&ss, sslen));
	ck_assert_int_eq(addr_parse("10.9.8.7", 1, &ss, &sslen), 0);
	ck_assert(proxy_cidr_any(list, 2, (struct sockaddr *)&ss, sslen));
	/* too short an address length never matches */
	ck_assert(!proxy_cidr_any(list, 2, (struct sockaddr *)&ss, 2));
}
END_TEST

/* The suite: v1, v2, ranges. */
static Suite *
proxy_suite(void)
{
	Suite	*s = suite_create("proxy");
	TCase	*tc;

	tc = tcase_create("v1");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, check_proxy_v1_tcp4);
	tcase_add_test(tc, check_proxy_v1_tcp6);
	tcase_add_test(tc, check_proxy_v1_unknown);
	tcase_add_test(tc, check_proxy_v1_then_message);
	tcase_add_test(tc, check_proxy_v1_malformed);
	tcase_add_test(tc, check_proxy_v1_more);
	suite_add_tcase(s, tc);

	tc = tcase_create("v2");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, check_proxy_v2_inet);
	tcase_add_test(tc, check_proxy_v2_inet6);
	tcase_add_test(tc, check_proxy_v2_local);
	tcase_add_test(tc, check_proxy_v2_unspec);
	tcase_add_test(tc, check_proxy_v2_tlvs);
	tcase_add_test(tc, check_proxy_v2_malformed);
	tcase_add_test(tc, check_proxy_v2_truncated);
	suite_add_tcase(s, tc);

	tc = tcase_create("cidr");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, check_proxy_cidr_parse);
	tcase_add_test(tc, check_proxy_cidr_match);
	tcase_add_test(tc, check_proxy_cidr_any);
	suite_add_tcase(s, tc);
	return (s);
}

/* Run the suite; the exit status says whether every test passed. */
int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(proxy_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
