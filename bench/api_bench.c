// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * api_bench: round trips of io.greeter.SetMessage or GetMessage on CONNS
 * connections at once (one thread each), through the project's own varlink
 * client, optionally while IDLE other connections are held open.
 *
 *   api_bench SOCKET set|get CONNS CALLS_PER_CONN [IDLE]
 *   api_bench SOCKET flood CONNS SECONDS UID
 *
 * Prints one line of key=value pairs: calls, errors, ops per second, round
 * trip p50/p99/max in microseconds, and the idle connections accepted and
 * still open at the end.
 *
 * greeterd takes at most 512 connections per UID, so the idle ones are
 * spread over several UIDs, IDLE_PER_UID each, by children that setuid().
 * Each idle connection makes one GetMessage call first, so that we know
 * greeterd accepted it rather than refused it.
 *
 * flood: as UID, CONNS connections each pipeline GetStatus, ListMessages,
 * GetStatus, ListMessages, read the four replies, and again, for SECONDS;
 * prints calls, errors and calls per second. A client that would keep
 * greeterd's loop busy, while others measure what it does to them.
 */
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "varlink_client.h"
#include "io.greeter.varlink.h"

#define IDLE_PER_UID 250
#define IDLE_FIRST_UID 61000
#define BENCH_UID 61900 /* the UIDs whose messages the bench sets */
#define MAX_CHILDREN 64

struct worker {
	pthread_t thread;
	unsigned index;
	unsigned long calls;
	unsigned long errors;
	uint64_t *ns; /* one round trip per call */
};

static const char *socket_path;
static bool do_set;
static pthread_barrier_t barrier;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One call and its reply. Returns 0, 1 for an error reply, or -errno. */
static int round_trip(struct varlink_client *c, const char *method, cJSON *params, int timeout_ms)
{
	char *error = NULL;
	cJSON *reply = NULL;
	int r = varlink_client_call(c, method, params, 0);

	if (r < 0)
		return r;
	r = varlink_client_read_reply(c, timeout_ms, &reply, &error, NULL);
	cJSON_Delete(reply);
	if (r < 0)
		return r;
	if (error) {
		fprintf(stderr, "api_bench: %s: %s\n", method, error);
		free(error);
		return 1;
	}
	return 0;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct varlink_client *c;
	unsigned uid = BENCH_UID + w->index;
	int r = varlink_client_connect(&c, socket_path);

	pthread_barrier_wait(&barrier);
	if (r < 0) {
		fprintf(stderr, "api_bench: connect: %s\n", strerror(-r));
		w->errors = w->calls;
		return NULL;
	}
	for (unsigned long i = 0; i < w->calls; i++) {
		cJSON *p = cJSON_CreateObject();
		char text[64];
		uint64_t t0;

		cJSON_AddNumberToObject(p, "uid", uid);
		if (do_set) {
			/* A new text every time: each call is a real change, written out. */
			snprintf(text, sizeof(text), "Bench message %lu", i);
			cJSON_AddStringToObject(p, "message", text);
		}
		t0 = now_ns();
		r = round_trip(c, do_set ? IO_GREETER_SET_MESSAGE : IO_GREETER_GET_MESSAGE, p,
			       10000);
		w->ns[i] = now_ns() - t0;
		if (r != 0)
			w->errors++;
		if (r < 0)
			break;
	}
	varlink_client_free(c);
	return NULL;
}

#define FLOOD_DEPTH 4

static uint64_t flood_until;

/* A connection of our own: replies are counted, not parsed (a client that
 * parsed 16,384 messages per reply would measure itself, not greeterd). */
static int raw_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static void *flood(void *arg)
{
	static const char calls[] = "{\"method\":\"io.greeter.GetStatus\"}\0"
				    "{\"method\":\"io.greeter.ListMessages\"}\0"
				    "{\"method\":\"io.greeter.GetStatus\"}\0"
				    "{\"method\":\"io.greeter.ListMessages\"}";
	struct worker *w = arg;
	char buf[1 << 16];
	int fd = raw_connect(socket_path);

	pthread_barrier_wait(&barrier);
	if (fd < 0) {
		fprintf(stderr, "api_bench: connect: %s\n", strerror(errno));
		w->errors = 1;
		return NULL;
	}
	while (now_ns() < flood_until) {
		unsigned replies = 0;

		/* sizeof includes the last NUL: FLOOD_DEPTH calls. */
		if (write(fd, calls, sizeof(calls)) != (ssize_t)sizeof(calls))
			break;
		while (replies < FLOOD_DEPTH) {
			ssize_t n = read(fd, buf, sizeof(buf));

			if (n <= 0) {
				w->errors++;
				goto out;
			}
			for (ssize_t i = 0; i < n; i++)
				replies += buf[i] == '\0';
			if (replies == FLOOD_DEPTH && memmem(buf, (size_t)n, "\"error\"", 7))
				w->errors++;
		}
		w->calls += FLOOD_DEPTH;
	}
out:
	close(fd);
	return NULL;
}

static int flood_main(unsigned conns, unsigned seconds, unsigned uid)
{
	unsigned long calls = 0, errors = 0;
	struct worker *ws = calloc(conns, sizeof(*ws));
	uint64_t t0;

	if (!ws || setgroups(0, NULL) < 0 || setgid(uid) < 0 || setuid(uid) < 0) {
		fprintf(stderr, "api_bench: cannot become UID %u: %s\n", uid, strerror(errno));
		return 1;
	}
	if (pthread_barrier_init(&barrier, NULL, conns + 1))
		return 1;
	t0 = now_ns();
	flood_until = t0 + (uint64_t)seconds * 1000000000u;
	for (unsigned i = 0; i < conns; i++)
		if (pthread_create(&ws[i].thread, NULL, flood, &ws[i]))
			return 1;
	pthread_barrier_wait(&barrier);
	for (unsigned i = 0; i < conns; i++) {
		pthread_join(ws[i].thread, NULL);
		calls += ws[i].calls;
		errors += ws[i].errors;
	}
	printf("calls=%lu errors=%lu seconds=%.3f ops=%.0f\n", calls, errors,
	       (double)(now_ns() - t0) / 1e9, (double)calls / ((double)(now_ns() - t0) / 1e9));
	free(ws);
	return errors ? 1 : 0;
}

static volatile sig_atomic_t idle_stop;
static pid_t children[MAX_CHILDREN];
static volatile sig_atomic_t n_children;

static void on_term(int sig)
{
	idle_stop = 1;
}

/* Stopped from outside: take the idle children along. */
static void on_parent_term(int sig)
{
	for (sig_atomic_t i = 0; i < n_children; i++)
		kill(children[i], SIGKILL);
	_exit(1);
}

/*
 * A child holding count connections as uid: reports how many were accepted,
 * then, on SIGTERM, how many are still open.
 */
static void hold_idle(unsigned uid, unsigned count, int out)
{
	struct varlink_client **cs = calloc(count, sizeof(*cs));
	unsigned ok = 0, alive = 0;
	char line[64];
	sigset_t mask, old;

	if (!cs || setgroups(0, NULL) < 0 || setgid(uid) < 0 || setuid(uid) < 0) {
		perror("api_bench: idle child");
		_exit(1);
	}
	for (unsigned i = 0; i < count; i++) {
		/*
		 * Not served within 3 s: not accepted (greeterd out of fds, say).
		 * The next ones would wait as long: stop there.
		 */
		if (varlink_client_connect(&cs[i], socket_path) < 0 ||
		    round_trip(cs[i], IO_GREETER_GET_MESSAGE, NULL, 3000) != 0) {
			varlink_client_free(cs[i]);
			cs[i] = NULL;
			break;
		}
		ok++;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, &old);
	snprintf(line, sizeof(line), "%u\n", ok);
	if (write(out, line, strlen(line)) < 0)
		_exit(1);
	while (!idle_stop)
		sigsuspend(&old);
	/* Still open: nothing to read and no hang-up. */
	for (unsigned i = 0; i < count; i++) {
		struct pollfd p = { .events = POLLIN };

		if (!cs[i])
			continue;
		p.fd = varlink_client_fd(cs[i]);
		if (poll(&p, 1, 0) == 0)
			alive++;
		varlink_client_free(cs[i]);
	}
	snprintf(line, sizeof(line), "%u\n", alive);
	if (write(out, line, strlen(line)) < 0)
		_exit(1);
	free(cs);
	_exit(0);
}

static unsigned read_count(FILE *f)
{
	unsigned n = 0;

	if (fscanf(f, "%u", &n) != 1)
		return 0;
	return n;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	unsigned conns, idle = 0, idle_ok = 0, idle_alive = 0;
	unsigned long calls, total = 0, errors = 0, n = 0;
	FILE *from[MAX_CHILDREN];
	struct sigaction sa = { .sa_handler = on_term };
	struct sigaction parent_sa = { .sa_handler = on_parent_term };
	struct worker *ws;
	uint64_t *all, t0, t1;

	if (argc == 6 && strcmp(argv[2], "flood") == 0) {
		socket_path = argv[1];
		return flood_main((unsigned)strtoul(argv[3], NULL, 10),
				  (unsigned)strtoul(argv[4], NULL, 10),
				  (unsigned)strtoul(argv[5], NULL, 10));
	}
	if (argc < 5 || argc > 6 || (strcmp(argv[2], "set") && strcmp(argv[2], "get"))) {
		fprintf(stderr,
			"Usage: api_bench SOCKET set|get CONNS CALLS_PER_CONN [IDLE]\n"
			"       api_bench SOCKET flood CONNS SECONDS UID\n");
		return 2;
	}
	socket_path = argv[1];
	do_set = strcmp(argv[2], "set") == 0;
	conns = (unsigned)strtoul(argv[3], NULL, 10);
	calls = strtoul(argv[4], NULL, 10);
	if (argc == 6)
		idle = (unsigned)strtoul(argv[5], NULL, 10);
	if (conns < 1 || calls < 1 || idle > IDLE_PER_UID * MAX_CHILDREN) {
		fprintf(stderr, "api_bench: bad CONNS, CALLS_PER_CONN or IDLE\n");
		return 2;
	}
	sigaction(SIGTERM, &parent_sa, NULL);
	sigaction(SIGINT, &parent_sa, NULL);

	for (unsigned left = idle, k = 0; left; k++) {
		unsigned count = left < IDLE_PER_UID ? left : IDLE_PER_UID;
		int fds[2];

		if (pipe(fds) < 0)
			return 1;
		children[k] = fork();
		if (children[k] < 0)
			return 1;
		if (children[k] == 0) {
			sigaction(SIGTERM, &sa, NULL);
			sigaction(SIGINT, &sa, NULL);
			close(fds[0]);
			hold_idle(IDLE_FIRST_UID + k, count, fds[1]);
		}
		n_children = (sig_atomic_t)k + 1;
		close(fds[1]);
		from[k] = fdopen(fds[0], "r");
		left -= count;
	}
	for (sig_atomic_t i = 0; i < n_children; i++)
		idle_ok += read_count(from[i]);

	ws = calloc(conns, sizeof(*ws));
	if (!ws || pthread_barrier_init(&barrier, NULL, conns + 1))
		return 1;
	for (unsigned i = 0; i < conns; i++) {
		ws[i].index = i;
		ws[i].calls = calls;
		ws[i].ns = calloc(calls, sizeof(*ws[i].ns));
		if (!ws[i].ns || pthread_create(&ws[i].thread, NULL, work, &ws[i]))
			return 1;
	}
	pthread_barrier_wait(&barrier);
	t0 = now_ns();
	for (unsigned i = 0; i < conns; i++)
		pthread_join(ws[i].thread, NULL);
	t1 = now_ns();

	for (sig_atomic_t i = 0; i < n_children; i++)
		kill(children[i], SIGTERM);
	for (sig_atomic_t i = 0; i < n_children; i++) {
		idle_alive += read_count(from[i]);
		fclose(from[i]);
		waitpid(children[i], NULL, 0);
	}

	all = calloc(conns * calls, sizeof(*all));
	if (!all)
		return 1;
	for (unsigned i = 0; i < conns; i++) {
		memcpy(all + n, ws[i].ns, calls * sizeof(*all));
		n += calls;
		total += ws[i].calls;
		errors += ws[i].errors;
		free(ws[i].ns);
	}
	qsort(all, n, sizeof(*all), cmp_u64);
	printf("calls=%lu errors=%lu seconds=%.3f ops=%.0f p50_us=%.1f p99_us=%.1f max_us=%.1f "
	       "idle=%u idle_ok=%u idle_alive=%u\n",
	       total, errors, (double)(t1 - t0) / 1e9, (double)total / ((double)(t1 - t0) / 1e9),
	       (double)all[(size_t)(0.50 * (double)(n - 1) + 0.5)] / 1e3,
	       (double)all[(size_t)(0.99 * (double)(n - 1) + 0.5)] / 1e3, (double)all[n - 1] / 1e3,
	       idle, idle_ok, idle_alive);
	free(all);
	free(ws);
	return errors || idle_ok != idle || idle_alive != idle ? 1 : 0;
}
