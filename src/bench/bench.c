/* SPDX-License-Identifier: MIT */
/*
 * bench.c: ackd-bench, a load generator for ackd: start-up, the threads,
 * merging what they counted, teardown.
 *
 * main parses the flags (bench_flags.c), sets up the run, starts one event
 * loop per thread (bench_loop.c, driving bench_conn.c's connections) and,
 * with --attack-concurrency, the attack's own thread (bench_attack.c),
 * waits for them, merges their counts and prints the report
 * (bench_report.c). Signal handlers only set a flag; the main thread, the
 * only one that takes signals, passes it on to the event loops through an
 * eventfd that is in every epoll set. The same eventfd stops the attack
 * once the well-behaved clients have all finished. With --tls, the TLS
 * client's context (bench_tls.c) is made before the threads start, from
 * files that must load, or the run does not start (exit 64).
 */
#include "config.h"

#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define BENCH_PROGRESS_NS	(2 * BENCH_NS_S)	/* quiet before this */

static volatile sig_atomic_t	bench_signalled;

/* Report a failure, pthread style (the code is the error), and exit 71. */
static void __attribute__((noreturn))
bench_fatal_code(int code, const char *what)
{
	errno = code;
	fatal(BENCH_EXIT_OSERR, "%s", what);
}

/* --- set-up ----------------------------------------------------------- */

/* Resolve --host and --port into run->addr; exit 64 if that fails. */
static void
bench_resolve(struct bench_run *run, const struct bench_config *cfg)
{
	struct addrinfo	 hints, *res;
	char		 port[8];
	int		 rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%d", cfg->port);
	if ((rc = getaddrinfo(cfg->host, port, &hints, &res)) != 0) {
		diag_warnx("--host: cannot resolve '%s': %s", cfg->host,
		    rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		exit(BENCH_EXIT_USAGE);
	}
	memcpy(&run->addr, res->ai_addr, res->ai_addrlen);
	run->addrlen = res->ai_addrlen;
	freeaddrinfo(res);
}

/*
 * n loopback source addresses, the host part counting up from first + 2:
 * the well-behaved clients' 127.0.0.2 and up, then the attack's.
 */
static struct sockaddr_in *
bench_sources_from(int first, int n)
{
	struct sockaddr_in	*v;
	int			 i;

	if ((v = calloc((size_t)n, sizeof(*v))) == NULL)
		fatal(BENCH_EXIT_OSERR, "malloc");
	for (i = 0; i < n; i++) {
		v[i].sin_family = AF_INET;
		v[i].sin_addr.s_addr = htonl((127u << 24) |
		    (uint32_t)(first + i + 2));
	}
	return (v);
}

/* For a 127.x.y.z server, list the source addresses of both groups. */
static void
bench_sources(struct bench_run *run, const struct bench_config *cfg)
{
	const struct sockaddr_in	*sin;

	sin = (const struct sockaddr_in *)(const void *)&run->addr;
	if (sin->sin_family != AF_INET ||
	    (ntohl(sin->sin_addr.s_addr) >> 24) != 127)
		return;
	if (cfg->sources > 0) {
		run->sources = bench_sources_from(0, cfg->sources);
		run->nsources = cfg->sources;
	}
	if (cfg->attack != BENCH_ATTACK_NONE && cfg->attack_sources > 0) {
		run->attack_sources = bench_sources_from(cfg->sources,
		    cfg->attack_sources);
		run->nattack_sources = cfg->attack_sources;
	}
}

/* n bytes of filler, the same for every message. */
static char *
bench_filler_make(size_t n)
{
	char	*p;
	size_t	 i;

	if ((p = malloc(n)) == NULL)
		fatal(BENCH_EXIT_OSERR, "malloc");
	for (i = 0; i < n; i++)
		p[i] = bench_conn_filler(i);
	return (p);
}

/*
 * What an attack client sends first: --attack-size bytes of filler, or
 * else one byte for a trickler, the message for --no-read, nothing for
 * --silent.
 */
static void
bench_first_bytes(struct bench_run *run, const struct bench_config *cfg)
{
	size_t	len = cfg->attack_size;

	if (len == 0 && cfg->attack == BENCH_ATTACK_NO_READ) {
		run->attack_first = run->filler != NULL ? run->filler :
		    cfg->message.s;
		run->attack_first_len = run->filler != NULL ? cfg->size :
		    cfg->message.len;
		return;
	}
	if (len == 0 && cfg->attack == BENCH_ATTACK_TRICKLE)
		len = 1;
	if (len == 0)
		return;
	run->attack_filler = bench_filler_make(len);
	run->attack_first = run->attack_filler;
	run->attack_first_len = len;
}

/*
 * Raise the soft descriptor limit to the hard one if we need more: one
 * per connection of either group, two per thread (epoll, spare), a few
 * more. Say so, unless --quiet: the server needs as many.
 */
static void
bench_nofile(const struct bench_config *cfg)
{
	struct rlimit	rl;
	rlim_t		need, was;

	need = (rlim_t)cfg->concurrency + (rlim_t)cfg->attack_concurrency +
	    2 * (rlim_t)cfg->threads + 18;
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		fatal(BENCH_EXIT_OSERR, "getrlimit");
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
		return;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
		diag_warnx("--concurrency %d and --attack-concurrency %d need "
		    "%llu descriptors, but the hard limit is %llu (ulimit -Hn)",
		    cfg->concurrency, cfg->attack_concurrency,
		    (unsigned long long)need, (unsigned long long)rl.rlim_max);
		exit(BENCH_EXIT_OSERR);
	}
	was = rl.rlim_cur;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ? need : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		fatal(BENCH_EXIT_OSERR, "cannot raise the descriptor "
		    "limit to %llu", (unsigned long long)rl.rlim_cur);
	if (!cfg->quiet)
		diag_warnx("raised the open-file limit from %llu to %llu "
		    "(%llu needed)", (unsigned long long)was,
		    (unsigned long long)rl.rlim_cur, (unsigned long long)need);
}

/* Only set a flag: the main thread acts on it. */
static void
bench_on_signal(int sig)
{
	(void)sig;
	bench_signalled = 1;
}

/*
 * Ignore SIGPIPE; catch INT and TERM but keep them blocked, so the threads
 * created after this inherit a mask without them and only the main thread,
 * in ppoll, ever takes them.
 */
static void
bench_signals(sigset_t *old)
{
	struct sigaction	sa;
	sigset_t		set;
	int			rc;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = bench_on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if ((rc = pthread_sigmask(SIG_BLOCK, &set, old)) != 0)
		bench_fatal_code(rc, "pthread_sigmask");
	sigdelset(old, SIGINT);
	sigdelset(old, SIGTERM);
}

/* --- the main thread -------------------------------------------------- */

/* Tell every loop to stop, once: the stop eventfd becomes readable. */
static void
bench_stop(struct bench_run *run, int *stopped)
{
	uint64_t	one = 1;

	if (*stopped)
		return;
	*stopped = 1;
	if (write(run->stop_fd, &one, sizeof(one)) == -1)
		fatal(BENCH_EXIT_OSERR, "eventfd write");
}

/*
 * Wait for the n threads to finish. Once a second (after the first two, on
 * a terminal) update the progress line; on SIGINT or SIGTERM, tell the
 * threads to stop, and the attack once the well-behaved ones are done.
 */
static void
bench_wait(struct bench_run *run, struct bench_thread *threads,
    const struct bench_attack *attack, int n, const sigset_t *unblocked)
{
	struct pollfd	 pfd;
	struct timespec	 ts;
	uint64_t	 now, tick, last_ok = 0, v;
	int		 done = 0, progress, print, shown = 0, stopped = 0;

	progress = !run->cfg->quiet && isatty(STDERR_FILENO);
	pfd.fd = run->done_fd;
	pfd.events = POLLIN;
	tick = run->t0 + BENCH_NS_S;
	while (done < n) {
		now = mono_ns();
		v = tick > now ? tick - now : 0;
		ts.tv_sec = (time_t)(v / BENCH_NS_S);
		ts.tv_nsec = (long)(v % BENCH_NS_S);
		if (ppoll(&pfd, 1, &ts, unblocked) > 0 &&
		    read(run->done_fd, &v, sizeof(v)) == sizeof(v))
			done += (int)v;
		if (bench_signalled || (run->nthreads > 0 && atomic_load(
		    &run->wb_running) == 0))
			bench_stop(run, &stopped);
		if ((now = mono_ns()) < tick)
			continue;
		while (tick <= now)
			tick += BENCH_NS_S;
		if (!progress || done == n)
			continue;
		print = now - run->t0 >= BENCH_PROGRESS_NS;
		bench_report_progress(run, threads, attack, now, &last_ok,
		    print);
		shown |= print;
	}
	if (shown)
		fputs("\r\033[K", stderr);
}

/*
 * Add thread t's TLS handshakes to r's; the first handshake's version and
 * cipher are those of the lowest thread that had one.
 */
static void
bench_merge_tls(struct bench_report *r, const struct bench_thread *t)
{
	r->tls.handshakes += t->tls.handshakes;
	r->tls.resumed += t->tls.resumed;
	r->tls.offered += t->tls.offered;
	hist_merge(&r->tls.full_us, &t->tls.full_us);
	hist_merge(&r->tls.resumed_us, &t->tls.resumed_us);
	if (r->tls.version[0] == '\0') {
		memcpy(r->tls.version, t->tls.version, sizeof(r->tls.version));
		memcpy(r->tls.cipher, t->tls.cipher, sizeof(r->tls.cipher));
	}
}

/* Merge what the threads counted into r. */
static void
bench_merge(struct bench_report *r, const struct bench_run *run,
    const struct bench_thread *threads)
{
	const struct bench_thread	*t;
	uint64_t			 end = run->measure_start;
	int				 i, k;

	memset(r, 0, sizeof(*r));
	hist_init(&r->hist);
	hist_init(&r->attack_held);
	hist_init(&r->tls.full_us);
	hist_init(&r->tls.resumed_us);
	for (i = 0; i < run->nthreads; i++) {
		t = &threads[i];
		r->counts.connections += t->counts.connections;
		r->counts.ok += t->counts.ok;
		r->counts.wrong += t->counts.wrong;
		if (t->counts.unfinished_us > r->counts.unfinished_us)
			r->counts.unfinished_us = t->counts.unfinished_us;
		for (k = 0; k < BENCH_NKINDS; k++) {
			r->counts.errors[k] += t->counts.errors[k];
			if (t->first[k].at != 0 && (r->first[k].at == 0 ||
			    t->first[k].at < r->first[k].at)) {
				r->first[k] = t->first[k];
				/* the first TLS error's words go with it */
				if (k == BENCH_TLS)
					memcpy(r->tls.why, t->tls.why,
					    sizeof(r->tls.why));
			}
		}
		bench_merge_tls(r, t);
		if (t->first_wrong.at != 0 && (r->first_wrong.at == 0 ||
		    t->first_wrong.at < r->first_wrong.at)) {
			r->first_wrong = t->first_wrong;
			memcpy(r->sample, t->sample, t->sample_len);
			r->sample_len = t->sample_len;
			r->sample_bytes = t->sample_bytes;
		}
		hist_merge(&r->hist, &t->hist);
		if (t->end > end)
			end = t->end;
		if (t->longest > r->longest)
			r->longest = t->longest;
		if (t->record_failed != 0 && r->record_failed == 0)
			r->record_failed = t->record_failed;
	}
	r->duration_s = (double)(end - run->measure_start) / 1e9;
	if (r->duration_s < 0)		/* a signal in the warm-up */
		r->duration_s = 0;
	/* nothing sent (a refusing server): the size it would have had */
	if (r->longest == 0)
		r->longest = run->cfg->size > 0 ? run->cfg->size :
		    run->cfg->message.len;
}

/*
 * Add what the attack counted to r. Without well-behaved clients, the
 * attack's end (within --duration) ends the measured time.
 */
static void
bench_merge_attack(struct bench_report *r, const struct bench_run *run,
    const struct bench_attack *a)
{
	uint64_t	end = a->end;

	r->attack = a->counts;
	hist_merge(&r->attack_held, &a->held);
	r->attack_s = (double)(a->end - run->t0) / 1e9;
	r->attack_first_len = run->attack_first_len;
	r->attack_sources = run->nattack_sources;
	if (run->nthreads > 0)
		return;
	if (run->stop_at != 0 && end > run->stop_at)
		end = run->stop_at;
	r->duration_s = end > run->measure_start ?
	    (double)(end - run->measure_start) / 1e9 : 0;
}

/*
 * The exit status the report deserves: the well-behaved clients' verdict;
 * with none, whether an attack connection was ever established.
 */
static int
bench_status(const struct bench_run *run, const struct bench_report *r)
{
	if (run->nthreads == 0)
		return (r->attack.opened > 0 && r->record_failed == 0 ?
		    BENCH_EXIT_OK : BENCH_EXIT_FAILED);
	if (r->record_failed != 0 || r->counts.connections == 0 ||
	    r->counts.ok != r->counts.connections)
		return (BENCH_EXIT_FAILED);
	return (BENCH_EXIT_OK);
}

/*
 * Set up the shared run state: address, sources, message, TLS, files,
 * clock.
 */
static void
bench_setup(struct bench_run *run, const struct bench_config *cfg)
{
	char	err[512];

	memset(run, 0, sizeof(*run));
	run->cfg = cfg;
	run->record_fd = -1;
	bench_resolve(run, cfg);
	if (cfg->tls && bench_tls_setup(run, err, sizeof(err)) == -1) {
		diag_warnx("%s", err);
		exit(BENCH_EXIT_USAGE);
	}
	bench_sources(run, cfg);
	if (cfg->size > 0)
		run->filler = bench_filler_make(cfg->size);
	bench_first_bytes(run, cfg);
	bench_nofile(cfg);
	if (cfg->record != NULL && (run->record_fd = open(cfg->record,
	    O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) == -1)
		fatal(BENCH_EXIT_CANTCREAT, "cannot open %s",
		    cfg->record);
	if ((run->stop_fd = eventfd(0, EFD_CLOEXEC)) == -1 ||
	    (run->done_fd = eventfd(0, EFD_CLOEXEC)) == -1)
		fatal(BENCH_EXIT_OSERR, "eventfd");
	run->timeout_ns = (uint64_t)cfg->timeout_ms * BENCH_NS_MS;
	run->budgeted = cfg->count > 0;
	atomic_init(&run->budget, cfg->count);
	/* --concurrency 0: the attack alone */
	run->nthreads = cfg->concurrency > 0 ? cfg->threads : 0;
	atomic_init(&run->wb_running, run->nthreads);
}

/* Give back what bench_setup took. */
static void
bench_teardown(struct bench_run *run)
{
	if (run->record_fd != -1)
		close(run->record_fd);
	close(run->stop_fd);
	close(run->done_fd);
	free(run->sources);
	free(run->attack_sources);
	free(run->filler);
	free(run->attack_filler);
	bench_tls_teardown(run);
}

/* Start thread *tid running fn(arg), or exit 71. */
static void
bench_spawn(pthread_t *tid, void *(*fn)(void *), void *arg)
{
	int	rc;

	if ((rc = pthread_create(tid, NULL, fn, arg)) != 0)
		bench_fatal_code(rc, "cannot create a thread");
}

/* Wait for thread tid to end, or exit 71. */
static void
bench_join(pthread_t tid)
{
	int	rc;

	if ((rc = pthread_join(tid, NULL)) != 0)
		bench_fatal_code(rc, "pthread_join");
}

/*
 * Start the clock, the well-behaved threads and the attack's, wait for
 * them, fill the report.
 */
static void
bench_run(struct bench_run *run, const sigset_t *unblocked,
    struct bench_report *r)
{
	const struct bench_config	*cfg = run->cfg;
	struct bench_thread		*threads;
	struct bench_attack		*attack = NULL;
	int				 i;

	threads = calloc((size_t)cfg->threads, sizeof(*threads));
	if (threads == NULL)
		fatal(BENCH_EXIT_OSERR, "malloc");
	for (i = 0; i < run->nthreads; i++)
		bench_loop_thread_init(&threads[i], run, i);
	if (cfg->attack != BENCH_ATTACK_NONE) {
		if ((attack = calloc(1, sizeof(*attack))) == NULL)
			fatal(BENCH_EXIT_OSERR, "malloc");
		bench_attack_init(attack, run);
	}
	run->t0 = mono_ns();
	run->measure_start = run->t0 + (uint64_t)cfg->warmup_ms * BENCH_NS_MS;
	if (cfg->duration_ms > 0)
		run->stop_at = run->measure_start +
		    (uint64_t)cfg->duration_ms * BENCH_NS_MS;
	if (attack != NULL)
		bench_spawn(&attack->tid, bench_attack_main, attack);
	for (i = 0; i < run->nthreads; i++)
		bench_spawn(&threads[i].tid, bench_loop_thread_main,
		    &threads[i]);
	bench_wait(run, threads, attack, run->nthreads + (attack != NULL),
	    unblocked);
	for (i = 0; i < run->nthreads; i++)
		bench_join(threads[i].tid);
	bench_merge(r, run, threads);
	for (i = 0; i < run->nthreads; i++)
		bench_loop_thread_free(&threads[i]);
	free(threads);
	if (attack != NULL) {
		bench_join(attack->tid);
		bench_merge_attack(r, run, attack);
		bench_attack_free(attack);
		free(attack);
	}
}

/* Parse the flags, run the load, print the report; exit with its status. */
int
main(int argc, char **argv)
{
	static struct bench_report	 report;
	struct bench_config		 cfg;
	struct bench_run		 run;
	sigset_t			 unblocked;
	char				 err[512];
	int				 status;

	diag_init_tool("ackd-bench");
	stdfds_ensure();
	bench_flags_defaults(&cfg);
	switch (bench_flags_parse(&cfg, argc, argv, err, sizeof(err))) {
	case BENCH_HELP:
		bench_flags_usage(stdout);
		return (BENCH_EXIT_OK);
	case BENCH_VERSION:
		bench_flags_version(stdout);
		return (BENCH_EXIT_OK);
	case BENCH_ERROR:
		diag_warnx("%s", err);
		return (BENCH_EXIT_USAGE);
	case BENCH_RUN:
		break;
	}
	bench_signals(&unblocked);
	bench_setup(&run, &cfg);
	bench_run(&run, &unblocked, &report);
	bench_teardown(&run);
	if (cfg.json) {
		bench_report_json(stdout, &cfg, &report);
		if (!cfg.quiet)
			bench_report_print_firsts(stderr, &report,
			    "ackd-bench: ");
	} else
		bench_report_text(stdout, &cfg, &report);
	if (report.record_failed != 0)
		diag_warnx("cannot write %s: %s", cfg.record,
		    strerror(report.record_failed));
	status = bench_status(&run, &report);
	if (fflush(stdout) == EOF)
		status = BENCH_EXIT_FAILED;
	return (status);
}
