// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * loadgen: exec a program as fast as possible (or at a pace) from P worker
 * processes, fork + execve, and print the rate achieved.
 *
 *   loadgen [-n EXECS | -t SECONDS] [-w WORKERS] [-i PAUSE_USEC] PATH
 *
 * The path is copied to the heap: BPF cannot fault in a user page, and a
 * string literal in a freshly forked child may not be resident.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORKERS 64

struct result {
	uint64_t execs;
	uint64_t failed;
};

static volatile sig_atomic_t stop;
static pid_t pids[MAX_WORKERS];
static volatile sig_atomic_t n_pids;

/* The parent passes the signal on: the workers are what must stop. */
static void on_signal(int sig)
{
	stop = 1;
	for (sig_atomic_t i = 0; i < n_pids; i++)
		kill(pids[i], SIGTERM);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: loadgen [-n EXECS | -t SECONDS] [-w WORKERS] [-i PAUSE_USEC] PATH\n"
		"Runs PATH EXECS times in all (or for SECONDS) from WORKERS processes\n"
		"and prints execs=, failed=, seconds= and rate= (execs per second).\n");
}

/* One worker: exec count times, or until the deadline (count == 0). */
static struct result work(char *path, uint64_t count, double deadline, unsigned pause_usec)
{
	char *argv[] = { path, NULL };
	char *envp[] = { NULL };
	struct result res = { 0 };

	while (!stop && (count ? res.execs + res.failed < count : now() < deadline)) {
		pid_t pid = fork();
		int status;

		if (pid < 0) {
			perror("loadgen: fork");
			res.failed++;
			continue;
		}
		if (pid == 0) {
			execve(path, argv, envp);
			_exit(127);
		}
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			res.execs++;
		else
			res.failed++;
		if (pause_usec)
			usleep(pause_usec);
	}
	return res;
}

int main(int argc, char **argv)
{
	unsigned long workers = 1, pause_usec = 0;
	unsigned long long total = 0;
	double seconds = 0, start, end;
	struct result sum = { 0 };
	int pipes[MAX_WORKERS][2];
	char *path;
	int c;

	while ((c = getopt(argc, argv, "n:t:w:i:h")) != -1) {
		switch (c) {
		case 'n':
			total = strtoull(optarg, NULL, 10);
			break;
		case 't':
			seconds = strtod(optarg, NULL);
			break;
		case 'w':
			workers = strtoul(optarg, NULL, 10);
			break;
		case 'i':
			pause_usec = strtoul(optarg, NULL, 10);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1 || argv[optind][0] != '/' || workers < 1 || workers > MAX_WORKERS ||
	    (!total == !(seconds > 0))) {
		usage(stderr);
		return 2;
	}
	path = strdup(argv[optind]);
	if (!path)
		return 1;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	start = now();
	for (unsigned long w = 0; w < workers; w++) {
		/* Spread the remainder so that the total is exact. */
		uint64_t share = total ? total / workers + (w < total % workers) : 0;

		if (pipe(pipes[w]) < 0) {
			perror("loadgen: pipe");
			return 1;
		}
		pids[w] = fork();
		if (pids[w] < 0) {
			perror("loadgen: fork");
			return 1;
		}
		if (pids[w] == 0) {
			struct result r;

			n_pids = 0; /* a worker signals nobody */
			r = work(path, share, start + seconds, (unsigned)pause_usec);

			if (write(pipes[w][1], &r, sizeof(r)) != sizeof(r))
				_exit(1);
			_exit(0);
		}
		close(pipes[w][1]);
		n_pids = (sig_atomic_t)w + 1;
	}
	for (unsigned long w = 0; w < workers; w++) {
		struct result r = { 0 };

		if (read(pipes[w][0], &r, sizeof(r)) != sizeof(r))
			r.failed++;
		close(pipes[w][0]);
		waitpid(pids[w], NULL, 0);
		sum.execs += r.execs;
		sum.failed += r.failed;
	}
	end = now();
	free(path);
	printf("execs=%llu failed=%llu seconds=%.3f rate=%.0f\n", (unsigned long long)sum.execs,
	       (unsigned long long)sum.failed, end - start, (double)sum.execs / (end - start));
	return sum.failed ? 1 : 0;
}
