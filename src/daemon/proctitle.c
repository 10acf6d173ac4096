/* SPDX-License-Identifier: MIT */
/*
 * proctitle.c: what ps shows for each process, "ackd: master ..." and
 * "ackd: worker N", so an operator tells them apart.
 *
 * ps -o args and pgrep -f read /proc/PID/cmdline, which is the memory
 * where exec() put the arguments, followed by the environment: the only
 * way to change it is to write there. prctl(PR_SET_NAME) changes the
 * 15-byte comm instead, which ps -o args never shows, and which pidof,
 * killall and start-stop-daemon --name match on: comm stays "ackd".
 *
 * proctitle_init runs first in main, before anything keeps a pointer into
 * that memory: it copies the arguments and the environment to the heap,
 * points argv[] and environ at the copies, and from then on the original
 * area (argv[0] up to the end of the last string that follows it without
 * a gap) is ours to overwrite. The copies live in two blocks held by
 * static pointers, so they stay reachable whatever setenv/unsetenv do
 * later. If a copy cannot be made, nothing moves and titles are not set.
 *
 * A title fills the area from its start and the rest is zeroed; one
 * longer than the area is cut. Linux then shows the title up to its NUL
 * (and reads on past the arguments when the title ran into the
 * environment's old place). comm and /proc/PID/exe do not change.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ackd.h"
#include "master.h"

extern char	**environ;

static char	*proctitle_area;	/* argv[0]'s first byte; NULL: none */
static size_t	 proctitle_size;	/* bytes of it we may write */
/*
 * The moved strings and environ's new array live as long as the process,
 * and setenv may replace environ: these keep them reachable (for leak
 * checkers too). Written once and never read, so volatile, or the
 * compiler drops the stores and valgrind reports the array lost.
 */
static char	*volatile proctitle_argv_copy;	/* the arguments' strings */
static char	*volatile proctitle_env_copy;	/* the environment's strings */
static char	**volatile proctitle_env;	/* environ's new array */
static char	 proctitle_cmd[ACKD_PROCTITLE_MAX];	/* "ARG0 ARG1 ..." */

/*
 * Copy n strings of vec into one block, pointing vec[i] at the copies;
 * *end moves past each string that starts where it points (the area
 * stays contiguous). The block, or NULL (nothing changed).
 */
static char *
proctitle_move(char **vec, int n, char **end)
{
	size_t	total = 0, len;
	char	*block, *p;
	int	i;

	for (i = 0; i < n; i++)
		total += strlen(vec[i]) + 1;
	if ((block = malloc(total + 1)) == NULL)
		return (NULL);
	for (i = 0, p = block; i < n; i++) {
		len = strlen(vec[i]) + 1;
		if (vec[i] == *end)
			*end += len;
		memcpy(p, vec[i], len);
		vec[i] = p;
		p += len;
	}
	return (block);
}

/* Move environ's strings and array to the heap; 0, or -1 (unmoved). */
static int
proctitle_move_env(char **end)
{
	char	**env;
	int	n;

	for (n = 0; environ[n] != NULL; n++)
		;
	if ((env = calloc((size_t)n + 1, sizeof(*env))) == NULL)
		return (-1);
	memcpy(env, environ, (size_t)n * sizeof(*env));
	if ((proctitle_env_copy = proctitle_move(env, n, end)) == NULL) {
		free(env);
		return (-1);
	}
	proctitle_env = env;
	environ = env;
	return (0);
}

/* Join argv into proctitle_cmd, as ps would show it, cut if too long. */
static void
proctitle_join(int argc, char **argv)
{
	size_t	off = 0;
	int	i;

	proctitle_cmd[0] = '\0';
	for (i = 0; i < argc && off < sizeof(proctitle_cmd) - 1; i++)
		off += (size_t)snprintf(proctitle_cmd + off,
		    sizeof(proctitle_cmd) - off, "%s%s", i > 0 ? " " : "",
		    argv[i]);
}

/*
 * At the very start of main: move the arguments and the environment out
 * of the way, so that proctitle_set may write over them.
 */
void
proctitle_init(int argc, char **argv)
{
	char	*start, *end;

	if (argc < 1 || argv[0] == NULL)
		return;
	proctitle_join(argc, argv);
	start = end = argv[0];
	if ((proctitle_argv_copy = proctitle_move(argv, argc, &end)) == NULL)
		return;
	/* unmoved, the environment's memory stays in use: not ours */
	(void)proctitle_move_env(&end);
	proctitle_area = start;
	proctitle_size = (size_t)(end - start);
}

/* The command line ackd was started with, its words joined by spaces. */
const char *
proctitle_command(void)
{
	return (proctitle_cmd);
}

/* Show the formatted title in ps, cut to the room there is. */
void
proctitle_set(const char *fmt, ...)
{
	char	title[ACKD_PROCTITLE_MAX];
	va_list	ap;
	size_t	len;

	if (proctitle_area == NULL || proctitle_size < 2)
		return;
	va_start(ap, fmt);
	vsnprintf(title, sizeof(title), fmt, ap);
	va_end(ap);
	len = strlen(title);
	if (len > proctitle_size - 1)
		len = proctitle_size - 1;
	memset(proctitle_area, 0, proctitle_size);
	memcpy(proctitle_area, title, len);
}
