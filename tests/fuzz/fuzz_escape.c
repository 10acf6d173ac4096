/*
 * fuzz_escape.c: libFuzzer target for logfmt.c, the code every client byte
 * goes through.
 *
 * The input is the message, whole. It is escaped alone (text and JSON) and
 * inside whole lines (both formats), with the other fields of the record
 * derived from it within what the daemon itself writes there (--log-tag
 * included). Checked: only printable ASCII comes out, a line ends in its
 * one '\n', nothing exceeds the logfmt_*_max bounds (buffers are
 * allocated to the exact size, so AddressSanitizer sees any byte past
 * them), a line too big for its buffer gives 0, and decoding the escaped
 * message gives back the input (decoders below, written from the
 * README's table, not from logfmt.c).
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ackd.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Stop with a message: libFuzzer saves the input that got here. */
#define FUZZ_ESCAPE_CHECK(cond, ...) do {				\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz_escape: " __VA_ARGS__);		\
		fputc('\n', stderr);					\
		abort();						\
	}								\
} while (0)

/* What net_format_addr can write: addresses, brackets, port, or "?". */
static const char fuzz_escape_client_chars[] = "0123456789abcdef.:[]?";
/* What the daemon puts in extra values ("errno=EPIPE", "listen=[::1]:9"). */
static const char fuzz_escape_value_chars[] =
    "0123456789abcdefxyzABCDEPIT.:[]_-";
/* What --log-tag allows (config.c checks it). */
static const char fuzz_escape_tag_chars[] =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";
/* Keys are lowercase words such as "truncated" or "worker". */
static const char fuzz_escape_key_chars[] = "abcdefnrstuwz_-";
static const char *const fuzz_escape_events[] = { "message", "empty",
    "timeout", "reset", "error", "ack-failed", "log-failed", "start",
    "worker-start", "worker-stop", "worker-exit", "reopen", "shutdown",
    "stop" };

#define FUZZ_ESCAPE_NEVENTS \
	(sizeof(fuzz_escape_events) / sizeof(fuzz_escape_events[0]))

/* 64-bit FNV-1a of the input: the seed of every derived field. */
static uint64_t
fuzz_escape_hash(const uint8_t *data, size_t size)
{
	uint64_t	h = 0xcbf29ce484222325ULL;
	size_t		i;

	for (i = 0; i < size; i++)
		h = (h ^ data[i]) * 0x100000001b3ULL;
	return (h);
}

/* The value 0-15 of a lowercase hex digit, or -1 (uppercase is refused). */
static int
fuzz_escape_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	return (-1);
}

/* Must byte c be written as \xNN or \u00NN, by the README's table? */
static int
fuzz_escape_needs_hex(unsigned c)
{
	return ((c < 0x20 || c >= 0x7f) && c != '\n' && c != '\r' &&
	    c != '\t');
}

/*
 * Decode an escaped message (text if json is 0) into out, which has room
 * for len bytes. Strict: an escape the README does not list, uppercase
 * hex, a hex escape for a byte that has a shorter form, or a bare '"' or
 * '\' is an error. Returns the decoded length, or -1 with *why set.
 */
static long
fuzz_escape_decode(const char *s, size_t len, int json, unsigned char *out,
    const char **why)
{
	size_t	i = 0, n = 0;
	int	hi, lo;

	while (i < len) {
		unsigned char	c = (unsigned char)s[i];

		if (c < 0x20 || c > 0x7e) {
			*why = "byte outside printable ASCII";
			return (-1);
		}
		if (c == '"') {
			*why = "bare '\"' would end the field";
			return (-1);
		}
		if (c != '\\') {
			out[n++] = c;
			i++;
			continue;
		}
		if (i + 1 >= len) {
			*why = "'\\' at the end";
			return (-1);
		}
		switch (s[i + 1]) {
		case '\\':
		case '"':
			out[n++] = (unsigned char)s[i + 1];
			i += 2;
			continue;
		case 'n':
			out[n++] = '\n';
			i += 2;
			continue;
		case 'r':
			out[n++] = '\r';
			i += 2;
			continue;
		case 't':
			out[n++] = '\t';
			i += 2;
			continue;
		}
		if (!json && s[i + 1] == 'x' && i + 4 <= len) {
			hi = fuzz_escape_hexval(s[i + 2]);
			lo = fuzz_escape_hexval(s[i + 3]);
			i += 4;
		} else if (json && s[i + 1] == 'u' && i + 6 <= len &&
		    s[i + 2] == '0' && s[i + 3] == '0') {
			hi = fuzz_escape_hexval(s[i + 4]);
			lo = fuzz_escape_hexval(s[i + 5]);
			i += 6;
		} else {
			*why = "unknown or cut escape";
			return (-1);
		}
		if (hi < 0 || lo < 0) {
			*why = "hex escape without two lowercase hex digits";
			return (-1);
		}
		if (!fuzz_escape_needs_hex((unsigned)(hi << 4 | lo))) {
			*why = "hex escape for a byte with a shorter form";
			return (-1);
		}
		out[n++] = (unsigned char)(hi << 4 | lo);
	}
	return ((long)n);
}

/* Escape the input alone and check bound, alphabet and round trip. */
static void
fuzz_escape_one(const uint8_t *data, size_t size, int json,
    unsigned char *back)
{
	const char	*name = json ? "json" : "text", *why = "";
	size_t		 max, n;
	long		 dn;
	char		*dst;

	max = json ? logfmt_json_max(size) : logfmt_text_max(size);
	FUZZ_ESCAPE_CHECK(max >= size, "%s_max(%zu) = %zu", name, size, max);
	/* exact size (malloc(0) may be NULL): ASan catches one byte more */
	dst = malloc(max > 0 ? max : 1);
	FUZZ_ESCAPE_CHECK(dst != NULL, "out of memory");
	n = json ? logfmt_escape_json(dst, data, size) :
	    logfmt_escape_text(dst, data, size);
	FUZZ_ESCAPE_CHECK(n <= max, "%s: %zu bytes escaped to %zu, max %zu",
	    name, size, n, max);
	dn = fuzz_escape_decode(dst, n, json, back, &why);
	FUZZ_ESCAPE_CHECK(dn >= 0, "%s: escaped form does not decode: %s",
	    name, why);
	FUZZ_ESCAPE_CHECK((size_t)dn == size && memcmp(back, data, size) == 0,
	    "%s: round trip gives %ld bytes back for %zu, or other bytes",
	    name, dn, size);
	free(dst);
}

/* Fill s with len characters of alphabet, chosen by successive bytes. */
static void
fuzz_escape_pick(char *s, size_t len, const char *alphabet,
    const uint8_t *data, size_t size, uint64_t seed)
{
	size_t	i, na = strlen(alphabet);

	for (i = 0; i < len; i++) {
		unsigned	b = size > 0 ? data[(seed + i) % size] : 0;

		s[i] = alphabet[(b + seed + i) % na];
	}
	s[len] = '\0';
}

/*
 * Build the extra fields from the input: "key=value" words joined by
 * single spaces, keys and values non-empty and without spaces or quotes,
 * as the daemon writes them (logfmt_json_extra relies on that).
 */
static void
fuzz_escape_extra(char *extra, size_t room, const uint8_t *data, size_t size,
    uint64_t h)
{
	size_t	words = (h >> 8) % 5, len = 0, i, klen, vlen;

	extra[0] = '\0';
	for (i = 0; i < words; i++) {
		klen = 1 + (h >> (16 + 3 * i)) % 8;
		vlen = 1 + (size > 0 ? data[i % size] : 0) % 24;
		if (len + 1 + klen + 1 + vlen + 1 > room)
			break;
		if (len > 0)
			extra[len++] = ' ';
		fuzz_escape_pick(extra + len, klen, fuzz_escape_key_chars,
		    data, size, h + i);
		len += klen;
		extra[len++] = '=';
		fuzz_escape_pick(extra + len, vlen, fuzz_escape_value_chars,
		    data, size, h + 7 * i);
		len += vlen;
	}
}

/* Check a formatted line: printable ASCII, then its one '\n' at the end. */
static void
fuzz_escape_check_line(const char *line, size_t n, const char *name)
{
	size_t	i;

	FUZZ_ESCAPE_CHECK(n > 0 && line[n - 1] == '\n',
	    "%s line does not end in '\\n'", name);
	for (i = 0; i + 1 < n; i++)
		FUZZ_ESCAPE_CHECK((unsigned char)line[i] >= 0x20 &&
		    (unsigned char)line[i] <= 0x7e,
		    "%s line: byte 0x%02x at %zu of %zu", name,
		    (unsigned char)line[i], i, n);
}

/*
 * Format rec as a whole line in fmt and check it: within logfmt_line_max,
 * the same line without msg plus the msg field and nothing else, the
 * field decodes to the input, and any smaller buffer gives 0.
 */
static void
fuzz_escape_line(struct logfmt_record *rec, enum ackd_log_format fmt,
    uint64_t h, unsigned char *back)
{
	int		 json = fmt == ACKD_LOG_JSON;
	const char	*name = json ? "json" : "text", *why = "";
	const char	*open = json ? ",\"msg\":\"" : " msg=\"";
	const char	*close = json ? "\"}\n" : "\"\n";
	size_t		 max, n, bare_n, head, olen, clen, small;
	char		*line, *bare, *tiny;
	long		 dn;
	const unsigned char	*msg = rec->msg;

	max = logfmt_line_max(fmt, rec->msg_len,
	    rec->extra != NULL ? strlen(rec->extra) : 0);
	line = malloc(max);
	bare = malloc(max);
	FUZZ_ESCAPE_CHECK(line != NULL && bare != NULL, "out of memory");

	n = logfmt_line(line, max, fmt, rec);
	FUZZ_ESCAPE_CHECK(n > 0 && n <= max, "%s line: %zu bytes, max %zu",
	    name, n, max);
	fuzz_escape_check_line(line, n, name);

	/* the line without msg is the head; with it, head + field + end */
	rec->msg = NULL;
	bare_n = logfmt_line(bare, max, fmt, rec);
	rec->msg = msg;
	FUZZ_ESCAPE_CHECK(bare_n > 0, "%s line without msg: 0", name);
	fuzz_escape_check_line(bare, bare_n, name);
	head = bare_n - (json ? 2 : 1);
	FUZZ_ESCAPE_CHECK(json ? memcmp(bare + head, "}\n", 2) == 0 : 1,
	    "json line does not end in '}'");
	olen = strlen(open);
	clen = strlen(close);
	FUZZ_ESCAPE_CHECK(n >= head + olen + clen &&
	    memcmp(line, bare, head) == 0 &&
	    memcmp(line + head, open, olen) == 0 &&
	    memcmp(line + n - clen, close, clen) == 0,
	    "%s line is not the line without msg plus %s...%s", name, open,
	    json ? "\"}" : "\"");
	dn = fuzz_escape_decode(line + head + olen, n - head - olen - clen,
	    json, back, &why);
	FUZZ_ESCAPE_CHECK(dn >= 0, "%s line: msg does not decode: %s", name,
	    why);
	FUZZ_ESCAPE_CHECK((size_t)dn == rec->msg_len &&
	    memcmp(back, msg, rec->msg_len) == 0,
	    "%s line: msg round trip gives other bytes", name);

	/* one buffer too small, exactly sized: 0 and nothing written past */
	small = (size_t)(h % n);
	tiny = malloc(small > 0 ? small : 1);
	FUZZ_ESCAPE_CHECK(tiny != NULL, "out of memory");
	FUZZ_ESCAPE_CHECK(logfmt_line(tiny, small, fmt, rec) == 0,
	    "%s line of %zu bytes claims to fit in %zu", name, n, small);
	free(tiny);
	free(line);
	free(bare);
}

/* libFuzzer's entry point: data is one client message. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct logfmt_record	 rec;
	struct timespec		 when;
	char			 client[ACKD_ADDRSTRLEN], extra[160];
	char			 tag[ACKD_TAG_MAX + 1];
	size_t			 tag_len;
	unsigned char		*back;
	uint64_t		 h = fuzz_escape_hash(data, size);

	back = malloc(size > 0 ? size : 1);
	if (back == NULL)
		return (0);
	fuzz_escape_one(data, size, 0, back);
	fuzz_escape_one(data, size, 1, back);

	/* a time clock_gettime can give, up to 9999-12-31T23:59:59 */
	when.tv_sec = (time_t)(h % 253402300800ULL);
	when.tv_nsec = (long)((h >> 20) % 1000000000);
	fuzz_escape_pick(client, (h >> 40) % ACKD_ADDRSTRLEN,
	    fuzz_escape_client_chars, data, size, h);
	fuzz_escape_extra(extra, sizeof(extra), data, size, h);
	/* no tag, or one of 1-ACKD_TAG_MAX bytes */
	tag_len = (size_t)((h >> 48) % (ACKD_TAG_MAX + 1));
	fuzz_escape_pick(tag, tag_len, fuzz_escape_tag_chars, data, size,
	    h >> 12);
	memset(&rec, 0, sizeof(rec));
	rec.when = &when;
	rec.client = (h & 1) ? NULL : client;
	rec.pid = (pid_t)(1 + (h >> 3) % 4194304);
	rec.tag = tag_len > 0 ? tag : NULL;
	rec.event = fuzz_escape_events[(h >> 5) % FUZZ_ESCAPE_NEVENTS];
	rec.bytes = (h & 2) ? size : (size_t)h;
	/* an empty message still has its (empty) msg field */
	rec.msg = size > 0 ? data : (const unsigned char *)"";
	rec.msg_len = size;
	rec.extra = (h & 4) ? NULL : extra;
	fuzz_escape_line(&rec, ACKD_LOG_TEXT, h, back);
	fuzz_escape_line(&rec, ACKD_LOG_JSON, h >> 1, back);
	free(back);
	return (0);
}
