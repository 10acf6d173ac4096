/*
 * metrics.c: the master's Prometheus endpoint (--metrics). Not written
 * yet: --metrics is refused at start until it is.
 */
#include "config.h"

#include <stdio.h>

#include "ackd.h"

/* Open the metrics listener: -2 when --metrics is off. */
int
metrics_listen(const struct ackd_config *cfg, char *err, size_t errsize)
{
	if (cfg->metrics[0] == '\0')
		return (-2);
	snprintf(err, errsize, "--metrics: not implemented yet");
	return (-1);
}

/* The descriptors the master's wait should watch. */
int
metrics_pollfds(struct pollfd *fds, int max)
{
	(void)fds;
	(void)max;
	return (0);
}

/* Serve the descriptors that are ready. */
void
metrics_io(struct pollfd *fds, int n)
{
	(void)fds;
	(void)n;
}
