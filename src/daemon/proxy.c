/* SPDX-License-Identifier: MIT */
/*
 * proxy.c: the PROXY protocol header a load balancer puts before its
 * client's bytes (HAProxy's doc/proxy-protocol.txt, versions 1 and 2),
 * and the --proxy-from address ranges.
 *
 * Pure functions over a byte buffer: nothing here reads a socket, so the
 * unit tests and the fuzzer reach every byte. The caller hands
 * proxy_parse everything received so far and reads more while it says
 * PROXY_MORE. A verdict looks only at bytes up to the header's end (v1:
 * its CRLF, at most PROXY_V1_MAX; v2: its announced length), so once
 * given, more bytes never change it; a prefix that no continuation can
 * mend is refused at once, as the spec recommends.
 */
#include "config.h"

#include <arpa/inet.h>

#include <string.h>

#include "ackd.h"

/* The v2 signature: its NUL and CRs keep it from any text protocol. */
static const unsigned char proxy_v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

#define PROXY_V1_SIG		"PROXY "
#define PROXY_V1_SIG_LEN	6
#define PROXY_V2_SIG_LEN	12

/* v2 address block sizes by family (high nibble): UNSPEC, INET, INET6, UNIX */
static const size_t proxy_v2_addr_len[4] = { 0, 12, 36, 216 };

/* Mark hdr invalid for reason why. */
static enum proxy_result
proxy_invalid(struct proxy_header *hdr, const char *why)
{
	hdr->why = why;
	return (PROXY_INVALID);
}

/*
 * Parse a decimal IPv4 address of exactly len bytes into out: four
 * numbers 0-255, one dot between each, no leading zeros (the spec's
 * canonical form, which keeps 010 from meaning 8). 0 or -1.
 */
static int
proxy_parse_ipv4(const char *s, size_t len, unsigned char out[4])
{
	size_t		i = 0;
	int		part, digits;
	unsigned	v;

	for (part = 0; part < 4; part++) {
		if (part > 0) {
			if (i >= len || s[i] != '.')
				return (-1);
			i++;
		}
		v = 0;
		for (digits = 0; i < len && s[i] >= '0' && s[i] <= '9';
		    digits++, i++) {
			if (digits == 3 || (digits == 1 && v == 0))
				return (-1);	/* too long, or a leading zero */
			v = v * 10 + (unsigned)(s[i] - '0');
		}
		if (digits == 0 || v > 255)
			return (-1);
		out[part] = (unsigned char)v;
	}
	return (i == len ? 0 : -1);
}

/* Parse an IPv6 address of exactly len bytes into out; 0 or -1. */
static int
proxy_parse_ipv6(const char *s, size_t len, unsigned char out[16])
{
	char	tmp[INET6_ADDRSTRLEN];
	size_t	i;

	if (len == 0 || len >= sizeof(tmp))
		return (-1);
	for (i = 0; i < len; i++)	/* inet_pton would take no NUL anyway */
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' &&
		    s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F') ||
		    s[i] == ':' || s[i] == '.'))
			return (-1);
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	return (inet_pton(AF_INET6, tmp, out) == 1 ? 0 : -1);
}

/* Parse a decimal port 0-65535 of exactly len bytes, no leading zero. */
static int
proxy_parse_port(const char *s, size_t len, uint16_t *port)
{
	unsigned long	v = 0;
	size_t		i;

	if (len == 0 || len > 5 || (len > 1 && s[0] == '0'))
		return (-1);
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return (-1);
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return (-1);
	*port = (uint16_t)v;
	return (0);
}

/* Fill ss (len in *sslen) with an address of family v6 or v4 and port. */
static void
proxy_sockaddr(struct sockaddr_storage *ss, socklen_t *sslen, int v6,
    const unsigned char *addr, uint16_t port)
{
	memset(ss, 0, sizeof(*ss));
	if (v6) {
		struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, addr, 16);
		sin6->sin6_port = htons(port);
		*sslen = sizeof(*sin6);
	} else {
		struct sockaddr_in	*sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, addr, 4);
		sin->sin_port = htons(port);
		*sslen = sizeof(*sin);
	}
}

/*
 * The fields of a v1 TCP4/TCP6 line after "PROXY TCPn ": exactly
 * "SRC DST SPORT DPORT", single spaces, in s[0..len).
 */
static enum proxy_result
proxy_v1_fields(const char *s, size_t len, int v6, struct proxy_header *hdr)
{
	const char	*f[4];
	size_t		 flen[4], i, n = 0, start = 0;
	unsigned char	 src[16], dst[16];
	uint16_t	 sport, dport;

	for (i = 0; i <= len; i++) {
		if (i < len && s[i] != ' ')
			continue;
		if (i == start || n == 4)
			return (proxy_invalid(hdr, "v1-bad-line"));
		f[n] = s + start;
		flen[n++] = i - start;
		start = i + 1;
	}
	if (n != 4)
		return (proxy_invalid(hdr, "v1-bad-line"));
	if (v6 ? proxy_parse_ipv6(f[0], flen[0], src) == -1 ||
	    proxy_parse_ipv6(f[1], flen[1], dst) == -1 :
	    proxy_parse_ipv4(f[0], flen[0], src) == -1 ||
	    proxy_parse_ipv4(f[1], flen[1], dst) == -1)
		return (proxy_invalid(hdr, "v1-bad-address"));
	if (proxy_parse_port(f[2], flen[2], &sport) == -1 ||
	    proxy_parse_port(f[3], flen[3], &dport) == -1)
		return (proxy_invalid(hdr, "v1-bad-port"));
	proxy_sockaddr(&hdr->src, &hdr->srclen, v6, src, sport);
	proxy_sockaddr(&hdr->dst, &hdr->dstlen, v6, dst, dport);
	hdr->command = PROXY_CMD_PROXY;
	return (PROXY_DONE);
}

/* Judge a v1 (text) header: "PROXY TCP4|TCP6|UNKNOWN ...\r\n". */
static enum proxy_result
proxy_v1(const unsigned char *buf, size_t len, struct proxy_header *hdr)
{
	const char	*line = (const char *)buf, *proto;
	size_t		 i, end, plen, scan;

	if (memcmp(buf, PROXY_V1_SIG, len < PROXY_V1_SIG_LEN ? len :
	    PROXY_V1_SIG_LEN) != 0)
		return (proxy_invalid(hdr, "bad-signature"));
	/* the line end: CRLF, neither alone, within PROXY_V1_MAX bytes */
	scan = len < PROXY_V1_MAX ? len : PROXY_V1_MAX;
	for (i = 0; i < scan; i++)
		if (buf[i] == '\r' || buf[i] == '\n')
			break;
	if (i == scan)
		return (len >= PROXY_V1_MAX ? proxy_invalid(hdr, "v1-too-long") :
		    PROXY_MORE);
	if (buf[i] == '\n')
		return (proxy_invalid(hdr, "v1-bad-crlf"));
	if (i + 2 > PROXY_V1_MAX)
		return (proxy_invalid(hdr, "v1-too-long"));
	if (i + 1 == len)
		return (PROXY_MORE);
	if (buf[i + 1] != '\n')
		return (proxy_invalid(hdr, "v1-bad-crlf"));
	end = i;
	if (end < PROXY_V1_SIG_LEN)
		return (proxy_invalid(hdr, "bad-signature"));
	hdr->version = 1;
	hdr->len = end + 2;
	proto = line + PROXY_V1_SIG_LEN;
	for (plen = 0; PROXY_V1_SIG_LEN + plen < end && proto[plen] != ' ';
	    plen++)
		;
	/* UNKNOWN: the receiver ignores whatever follows, up to the CRLF */
	if (plen == 7 && memcmp(proto, "UNKNOWN", 7) == 0) {
		hdr->command = PROXY_CMD_UNKNOWN;
		return (PROXY_DONE);
	}
	if (plen != 4 || (memcmp(proto, "TCP4", 4) != 0 &&
	    memcmp(proto, "TCP6", 4) != 0))
		return (proxy_invalid(hdr, "v1-bad-protocol"));
	if (PROXY_V1_SIG_LEN + plen == end)
		return (proxy_invalid(hdr, "v1-bad-line"));
	return (proxy_v1_fields(proto + plen + 1,
	    end - PROXY_V1_SIG_LEN - plen - 1, proto[3] == '6', hdr));
}

/* Check that the v2 TLVs in buf[0..len) fill it exactly. */
static int
proxy_v2_tlvs(const unsigned char *buf, size_t len)
{
	size_t	p = 0, vlen;

	while (p < len) {
		if (len - p < 3)
			return (-1);
		vlen = (size_t)buf[p + 1] << 8 | buf[p + 2];
		if (vlen > len - p - 3)
			return (-1);
		p += 3 + vlen;
	}
	return (0);
}

/* Judge a v2 (binary) header: signature, version/command, family, length. */
static enum proxy_result
proxy_v2(const unsigned char *buf, size_t len, struct proxy_header *hdr)
{
	size_t		alen, need = 0, total;
	unsigned	cmd, fam = 0, proto;

	if (memcmp(buf, proxy_v2_sig, len < PROXY_V2_SIG_LEN ? len :
	    PROXY_V2_SIG_LEN) != 0)
		return (proxy_invalid(hdr, "bad-signature"));
	if (len <= 12)
		return (PROXY_MORE);
	if (buf[12] >> 4 != 2)
		return (proxy_invalid(hdr, "v2-bad-version"));
	cmd = buf[12] & 0x0f;
	if (cmd > 1)
		return (proxy_invalid(hdr, "v2-bad-command"));
	if (len <= 13)
		return (PROXY_MORE);
	/* LOCAL: the family is ignored, as the spec says; PROXY: checked */
	if (cmd == 1) {
		fam = buf[13] >> 4;
		proto = buf[13] & 0x0f;
		if (fam > 3 || proto > 2)
			return (proxy_invalid(hdr, "v2-bad-family"));
		need = proxy_v2_addr_len[fam];
	}
	if (len < PROXY_V2_FIXED)
		return (PROXY_MORE);
	alen = (size_t)buf[14] << 8 | buf[15];
	total = PROXY_V2_FIXED + alen;
	if (total > PROXY_HEADER_MAX)
		return (proxy_invalid(hdr, "v2-too-long"));
	if (alen < need)
		return (proxy_invalid(hdr, "v2-bad-length"));
	if (len < total)
		return (PROXY_MORE);
	hdr->version = 2;
	hdr->len = total;
	if (cmd == 0) {
		hdr->command = PROXY_CMD_LOCAL;
		return (PROXY_DONE);
	}
	if (proxy_v2_tlvs(buf + PROXY_V2_FIXED + need, alen - need) == -1)
		return (proxy_invalid(hdr, "v2-bad-tlv"));
	/* TCP over IPv4 or IPv6; anything else falls back to the peer */
	if (buf[13] == 0x11 || buf[13] == 0x21) {
		const unsigned char	*a = buf + PROXY_V2_FIXED;
		size_t			 al = fam == 1 ? 4 : 16;

		proxy_sockaddr(&hdr->src, &hdr->srclen, fam == 2, a,
		    (uint16_t)(a[2 * al] << 8 | a[2 * al + 1]));
		proxy_sockaddr(&hdr->dst, &hdr->dstlen, fam == 2, a + al,
		    (uint16_t)(a[2 * al + 2] << 8 | a[2 * al + 3]));
		hdr->command = PROXY_CMD_PROXY;
	} else
		hdr->command = PROXY_CMD_UNKNOWN;
	return (PROXY_DONE);
}

/*
 * Judge the len bytes received so far (buf may be NULL when len is 0).
 * PROXY_MORE: a valid header may still come; PROXY_INVALID: hdr->why
 * says why in one word; PROXY_DONE: hdr->len bytes are the header, the
 * rest is the client's, and for PROXY_CMD_PROXY hdr->src is the client.
 */
enum proxy_result
proxy_parse(const unsigned char *buf, size_t len, struct proxy_header *hdr)
{
	memset(hdr, 0, sizeof(*hdr));
	if (len == 0)
		return (PROXY_MORE);
	if (buf[0] == 'P')
		return (proxy_v1(buf, len, hdr));
	if (buf[0] == proxy_v2_sig[0])
		return (proxy_v2(buf, len, hdr));
	return (proxy_invalid(hdr, "bad-signature"));
}

/*
 * Parse one --proxy-from range of exactly len bytes: an IPv4 or IPv6
 * address, optionally /BITS (0-32 or 0-128, no leading zero); a bare
 * address is /32 or /128. Bits past the prefix are cleared. 0 or -1.
 */
int
proxy_cidr_parse(const char *s, size_t len, struct proxy_cidr *c)
{
	const char	*slash = memchr(s, '/', len);
	size_t		 alen = slash != NULL ? (size_t)(slash - s) : len, i;
	unsigned long	 bits = 0;
	int		 max;

	memset(c, 0, sizeof(*c));
	if (proxy_parse_ipv4(s, alen, c->addr) == 0) {
		c->family = AF_INET;
		max = 32;
	} else if (proxy_parse_ipv6(s, alen, c->addr) == 0) {
		c->family = AF_INET6;
		max = 128;
	} else
		return (-1);
	if (slash == NULL)
		bits = (unsigned long)max;
	else {
		const char	*b = slash + 1;
		size_t		 blen = len - alen - 1;

		if (blen == 0 || blen > 3 || (blen > 1 && b[0] == '0'))
			return (-1);
		for (i = 0; i < blen; i++) {
			if (b[i] < '0' || b[i] > '9')
				return (-1);
			bits = bits * 10 + (unsigned long)(b[i] - '0');
		}
		if (bits > (unsigned long)max)
			return (-1);
	}
	c->bits = (int)bits;
	for (i = 0; i < 16; i++) {
		if (i * 8 >= bits)
			c->addr[i] = 0;
		else if (i * 8 + 8 > bits)
			c->addr[i] &= (unsigned char)(0xff << (8 - (bits - i * 8)));
	}
	return (0);
}

/* Do the first bits bits of a and b agree? */
static int
proxy_prefix_eq(const unsigned char *a, const unsigned char *b, int bits)
{
	int	full = bits / 8, rest = bits % 8;

	if (memcmp(a, b, (size_t)full) != 0)
		return (0);
	if (rest == 0)
		return (1);
	return (((a[full] ^ b[full]) & (0xff << (8 - rest)) & 0xff) == 0);
}

/*
 * Is the address sa (as accept() gave it) in range c? An IPv4-mapped
 * IPv6 peer (::ffff:a.b.c.d, on a dual-stack socket) is its IPv4 address.
 */
int
proxy_cidr_match(const struct proxy_cidr *c, const struct sockaddr *sa,
    socklen_t salen)
{
	static const unsigned char	 mapped[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
	};
	const unsigned char		*a;
	int				 family = sa->sa_family;

	if (family == AF_INET && salen >= (socklen_t)sizeof(struct sockaddr_in))
		a = (const unsigned char *)
		    &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	else if (family == AF_INET6 &&
	    salen >= (socklen_t)sizeof(struct sockaddr_in6)) {
		a = (const unsigned char *)
		    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
		if (c->family == AF_INET && memcmp(a, mapped, 12) == 0) {
			a += 12;
			family = AF_INET;
		}
	} else
		return (0);
	return (family == c->family && proxy_prefix_eq(a, c->addr, c->bits));
}

/* Is sa in any of the n ranges of list? */
int
proxy_cidr_any(const struct proxy_cidr *list, int n, const struct sockaddr *sa,
    socklen_t salen)
{
	int	i;

	for (i = 0; i < n; i++)
		if (proxy_cidr_match(&list[i], sa, salen))
			return (1);
	return (0);
}
