/* SPDX-License-Identifier: MIT */
/*
 * optdoc.c: lay out one flag's --help entry, for ackd and ackd-bench.
 *
 * Each program's flag table is the single source of its flags: it says
 * each flag's names, the value's name, what it does, its range and its
 * default, and turns a flag into a struct optdoc. This file only lays
 * that out, so the two programs' --help look alike:
 *
 *   -p, --port N               TCP port of every listener; 0 picks a free one,
 *                              0-65535 [9999]
 *
 * The flag's names start at column 2, the text at the column the caller
 * gives (or two spaces after names longer than that), words wrap at
 * OPTDOC_WIDTH columns and go on at the text's column. Invariant: no line
 * is longer than OPTDOC_WIDTH unless one word is. An entry's text is cut
 * at 1023 bytes, far above the longest. optdoc_format is pure (no I/O, no
 * allocation) so unit tests reach every layout.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "optdoc.h"

/* The text of d: help, then ", range", then " [default]". */
static void
optdoc_text(const struct optdoc *d, char *buf, size_t size)
{
	const char	*help = d->help != NULL ? d->help : "";

	snprintf(buf, size, "%s%s%s%s%s%s", help,
	    d->range != NULL && help[0] != '\0' ? ", " : "",
	    d->range != NULL ? d->range : "",
	    d->dflt != NULL ? " [" : "", d->dflt != NULL ? d->dflt : "",
	    d->dflt != NULL ? "]" : "");
}

/* The names of d as they start its first line: "  -p, --port N". */
static void
optdoc_head(const struct optdoc *d, char *buf, size_t size)
{
	char	letter[8] = "    ";

	if (d->letter > 0 && d->letter < 256)
		snprintf(letter, sizeof(letter), "-%c, ", d->letter);
	if (d->arg == NULL)
		snprintf(buf, size, "  %s--%s", letter, d->name);
	else
		snprintf(buf, size, "  %s--%s%s%s%s", letter, d->name,
		    d->arg_optional ? "[=" : " ", d->arg,
		    d->arg_optional ? "]" : "");
}

/* Append len bytes of s to out at *pos, as far as size allows. */
static void
optdoc_put(char *out, size_t size, size_t *pos, const char *s, size_t len)
{
	if (*pos < size)
		memcpy(out + *pos, s, len < size - *pos ? len : size - *pos);
	*pos += len;
}

/* Append n spaces to out at *pos. */
static void
optdoc_pad(char *out, size_t size, size_t *pos, size_t n)
{
	for (; n > 0; n--)
		optdoc_put(out, size, pos, " ", 1);
}

/*
 * Put what goes before a word of len bytes, the line being at col: for
 * the first word, spaces to column (two at least); then one space, or a
 * new line at column if the word would pass OPTDOC_WIDTH. The new col.
 */
static size_t
optdoc_gap(char *out, size_t size, size_t *pos, size_t col, size_t len,
    size_t column, int first)
{
	if (first) {
		optdoc_pad(out, size, pos, col + 2 > column ? 2 : column - col);
		return (col + 2 > column ? col + 2 : column);
	}
	if (col + 1 + len <= OPTDOC_WIDTH) {
		optdoc_pad(out, size, pos, 1);
		return (col + 1);
	}
	optdoc_put(out, size, pos, "\n", 1);
	optdoc_pad(out, size, pos, column);
	return (column);
}

/*
 * Write d's entry into out (size bytes, NUL-terminated when size > 0):
 * its names, then its text from column, wrapped at OPTDOC_WIDTH, each
 * line ending in a newline. The length of the whole entry, as snprintf.
 */
size_t
optdoc_format(const struct optdoc *d, int column, char *out, size_t size)
{
	char		 head[128], text[1024];
	const char	*w = text;
	size_t		 pos = 0, col, len;
	int		 first = 1;

	optdoc_head(d, head, sizeof(head));
	optdoc_text(d, text, sizeof(text));
	col = strlen(head);
	optdoc_put(out, size, &pos, head, col);
	while (*(w += strspn(w, " ")) != '\0') {
		len = strcspn(w, " ");
		col = optdoc_gap(out, size, &pos, col, len, (size_t)column,
		    first);
		optdoc_put(out, size, &pos, w, len);
		col += len;
		w += len;
		first = 0;
	}
	optdoc_put(out, size, &pos, "\n", 1);
	if (size > 0)
		out[pos < size ? pos : size - 1] = '\0';
	return (pos);
}

/* Print d's entry on fp: optdoc_format's layout. */
void
optdoc_print(FILE *fp, const struct optdoc *d, int column)
{
	char	buf[2048];

	optdoc_format(d, column, buf, sizeof(buf));
	fputs(buf, fp);
}
