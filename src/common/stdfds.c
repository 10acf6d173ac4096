/* SPDX-License-Identifier: MIT */
/*
 * stdfds.c: descriptors 0, 1 and 2, for both programs. A program started
 * with one of them closed would hand that number to its next open file or
 * socket, and a later write to "standard error" would land in a log file
 * or on a client's connection. So each program calls stdfds_ensure first,
 * before it opens anything, and those numbers are /dev/null if not given.
 */
#include "config.h"

#include <fcntl.h>
#include <unistd.h>

#include "common.h"

/* Make sure descriptors 0-2 exist, so no file we open can become one. */
void
stdfds_ensure(void)
{
	int	fd;

	while ((fd = open("/dev/null", O_RDWR)) != -1 && fd <= STDERR_FILENO)
		;
	if (fd > STDERR_FILENO)
		close(fd);
}
