// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * life: processes that live and end as the tests of exits and of the
 * process table need (test_exits, test_process_table, test_exit_restart):
 *
 *   life threads N CODE    N threads block; once all run, the main thread
 *                          calls exit(CODE)
 *   life thread-exec PROG [ARG...]
 *                          a thread other than the leader execs PROG
 *   life loop N PROG       fork + exec PROG (no arguments) N times in a row,
 *                          each waited for; exits 1 if one did not exit 0
 *   life hold              reads its standard input to the end, exits 0
 *   life storm N PROG      N children exec "PROG hold", their standard input
 *                          a pipe it holds open; prints "held N" once all
 *                          have exec'd, waits for a line on its own standard
 *                          input, lets them go, reaps them and prints
 *                          "ended OK" (how many exited 0)
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_barrier_t started;

static void *block(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&started);
	for (;;)
		pause();
	return NULL;
}

static int threads(long n, int code)
{
	pthread_t t;

	if (n < 1 || pthread_barrier_init(&started, NULL, (unsigned)n + 1) != 0)
		return 2;
	for (long i = 0; i < n; i++) {
		if (pthread_create(&t, NULL, block, NULL) != 0) {
			perror("life: pthread_create");
			return 2;
		}
	}
	pthread_barrier_wait(&started);
	exit(code);
}

static char **exec_argv;

static void *exec_from_thread(void *arg)
{
	(void)arg;
	execv(exec_argv[0], exec_argv);
	perror("life: execv");
	exit(2);
}

static int thread_exec(char **argv)
{
	pthread_t t;

	exec_argv = argv;
	if (pthread_create(&t, NULL, exec_from_thread, NULL) != 0)
		return 2;
	/* The leader waits to be ended by the other thread's exec. */
	for (;;)
		pause();
}

/* The path on the heap: a child cannot fault in for BPF a page it has not touched. */
static int loop(long n, const char *prog)
{
	char *path = strdup(prog);
	char *envp[] = { NULL };
	int bad = 0;

	if (!path)
		return 2;
	for (long i = 0; i < n; i++) {
		pid_t pid = fork();
		int status;

		if (pid < 0) {
			perror("life: fork");
			return 2;
		}
		if (pid == 0) {
			execve(path, (char *[]){ path, NULL }, envp);
			_exit(127);
		}
		while (waitpid(pid, &status, 0) < 0)
			if (errno != EINTR)
				return 2;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			bad = 1;
	}
	return bad;
}

static int hold(void)
{
	char buf[64];

	for (;;) {
		ssize_t r = read(0, buf, sizeof(buf));

		if (r == 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return 1;
	}
}

static int storm(long n, const char *prog)
{
	char *path = strdup(prog), *word = strdup("hold");
	int held[2], ready[2];
	long ok = 0;
	char c, line[16];

	if (!path || !word || pipe2(held, O_CLOEXEC) < 0 || pipe2(ready, O_CLOEXEC) < 0)
		return 2;
	for (long i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			perror("life: fork");
			return 2;
		}
		if (pid == 0) {
			/* fd 0 stays open across the exec; every other end closes. */
			if (dup2(held[0], 0) < 0)
				_exit(127);
			execv(path, (char *[]){ path, word, NULL });
			_exit(127);
		}
	}
	/* The end of "ready": every child has exec'd (or died) and closed it. */
	close(ready[1]);
	while (read(ready[0], &c, 1) < 0 && errno == EINTR)
		;
	printf("held %ld\n", n);
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 2;
	close(held[1]);
	for (long i = 0; i < n; i++) {
		int status;

		if (wait(&status) < 0) {
			if (errno == EINTR) {
				i--;
				continue;
			}
			break;
		}
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			ok++;
	}
	printf("ended %ld\n", ok);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && strcmp(argv[1], "threads") == 0)
		return threads(strtol(argv[2], NULL, 10), (int)strtol(argv[3], NULL, 10));
	if (argc >= 3 && strcmp(argv[1], "thread-exec") == 0)
		return thread_exec(argv + 2);
	if (argc >= 4 && strcmp(argv[1], "loop") == 0)
		return loop(strtol(argv[2], NULL, 10), argv[3]);
	if (argc >= 2 && strcmp(argv[1], "hold") == 0)
		return hold();
	if (argc >= 4 && strcmp(argv[1], "storm") == 0)
		return storm(strtol(argv[2], NULL, 10), argv[3]);
	fprintf(stderr,
		"usage: life threads N CODE | thread-exec PROG [ARG...] | loop N PROG"
		" | hold | storm N PROG\n");
	return 2;
}
