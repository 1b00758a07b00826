// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * watch_client: CONNS io.greeter.WatchEvents clients in one process, for
 * the delivery and stall benches.
 *
 *   watch_client SOCKET CONNS MARKER [WAIT_SECONDS]
 *
 * Prints "ready" once every watcher has its first reply. Then reads events
 * until a line "expect N" on standard input says how many execs of MARKER
 * (a unique path) each watcher must see, and all have seen them or
 * WAIT_SECONDS (default 10) passed; standard input closing ends it too.
 * Prints one summary line of key=value pairs: marker events per watcher
 * (min and max), sequence gaps, "dropped" reported by greeterd, errors and
 * exec-to-client latency (event boot_usec against CLOCK_BOOTTIME at receipt).
 *
 * Replies are scanned rather than parsed with cJSON: with 64 watchers at
 * 3,000 events/s a full parse would cost a large part of one of the two
 * CPUs and slow down what is measured. The scan is exact for what it reads:
 * in JSON text a quote inside a string is escaped, so "key": cannot match
 * inside a value.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

#define BUF_SIZE (1u << 20)

struct watcher {
	int fd;
	char *buf;
	size_t len;
	uint64_t last_seq;
	uint64_t marker;
	uint64_t gaps;
	uint64_t dropped;
	bool started; /* the first reply is in */
	bool dead;
};

static uint32_t *samples;
static size_t n_samples, cap_samples;
static int errors;

static void add_sample(uint64_t usec)
{
	if (n_samples == cap_samples) {
		size_t cap = cap_samples ? cap_samples * 2 : 65536;
		uint32_t *p = realloc(samples, cap * sizeof(*p));

		if (!p) {
			fprintf(stderr, "watch_client: out of memory\n");
			exit(1);
		}
		samples = p;
		cap_samples = cap;
	}
	samples[n_samples++] = usec > UINT32_MAX ? UINT32_MAX : (uint32_t)usec;
}

/* The number after "key": in msg, or false when absent. */
static bool number(const char *msg, const char *key, uint64_t *out)
{
	const char *p = strstr(msg, key);

	if (!p)
		return false;
	*out = strtoull(p + strlen(key), NULL, 10);
	return true;
}

static void handle(struct watcher *w, const char *msg, const char *marker, size_t marker_len,
		   uint64_t now_boot)
{
	const char *ev = strstr(msg, "\"event\":{");
	const char *file;
	uint64_t seq, boot, dropped;

	if (strstr(msg, "\"error\":")) {
		fprintf(stderr, "watch_client: error reply: %s\n", msg);
		errors++;
		w->dead = true;
		return;
	}
	if (number(msg, "\"dropped\":", &dropped))
		w->dropped += dropped;
	if (!ev) {
		/* The first reply: where the stream stands. */
		if (number(msg, "\"seq\":", &seq))
			w->last_seq = seq;
		w->started = true;
		return;
	}
	if (!number(ev, "\"seq\":", &seq) || !number(ev, "\"boot_usec\":", &boot)) {
		fprintf(stderr, "watch_client: event without seq or boot_usec: %s\n", msg);
		errors++;
		return;
	}
	if (seq > w->last_seq + 1)
		w->gaps += seq - w->last_seq - 1;
	/*
	 * Two execs racing on two CPUs can reach the ring in swapped order: a
	 * late one fills the gap its successor opened.
	 */
	if (seq < w->last_seq && w->gaps > 0)
		w->gaps--;
	if (seq > w->last_seq)
		w->last_seq = seq;
	file = strstr(ev, "\"filename\":\"");
	/* The marker's execs; its exits name the same file. */
	if (file && !strstr(ev, "\"kind\":\"exit\"") && strncmp(file + 12, marker, marker_len) == 0 &&
	    file[12 + marker_len] == '"') {
		w->marker++;
		add_sample(now_boot > boot ? now_boot - boot : 0);
	}
}

/* Read what is there; hand on every complete message. */
static void pump(struct watcher *w, const char *marker, size_t marker_len)
{
	for (;;) {
		ssize_t n = recv(w->fd, w->buf + w->len, BUF_SIZE - 1 - w->len, MSG_DONTWAIT);
		uint64_t now_boot = now_usec(CLOCK_BOOTTIME);
		size_t start = 0;

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			fprintf(stderr, "watch_client: connection closed by greeterd\n");
			errors++;
			w->dead = true;
			return;
		}
		if (n < 0)
			return;
		w->len += (size_t)n;
		w->buf[w->len] = '\0';
		for (char *nul; (nul = memchr(w->buf + start, '\0', w->len - start));) {
			handle(w, w->buf + start, marker, marker_len, now_boot);
			start = (size_t)(nul - w->buf) + 1;
		}
		memmove(w->buf, w->buf + start, w->len - start);
		w->len -= start;
		if (w->len >= BUF_SIZE - 1) {
			fprintf(stderr, "watch_client: reply over %u bytes\n", BUF_SIZE);
			errors++;
			w->dead = true;
			return;
		}
	}
}

static int connect_watch(const char *path)
{
	/* With the exits: they take numbers of the same sequence, and a gap is then a loss. */
	static const char call[] = "{\"method\":\"io.greeter.WatchEvents\","
				   "\"parameters\":{\"exits\":true},\"more\":true}";
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    send(fd, call, sizeof(call), MSG_NOSIGNAL) != (ssize_t)sizeof(call)) {
		perror("watch_client: connect");
		exit(1);
	}
	return fd;
}

/* A line on standard input: true for "expect N"; *eof once it closes. */
static bool read_command(bool *eof, uint64_t *expect)
{
	unsigned long long n;
	char line[128];
	ssize_t r = read(0, line, sizeof(line) - 1);

	if (r <= 0) {
		*eof = true;
		return false;
	}
	line[r] = '\0';
	if (sscanf(line, "expect %llu", &n) != 1)
		return false;
	*expect = n;
	return true;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static double percentile(double p)
{
	size_t i;

	if (!n_samples)
		return -1;
	i = (size_t)(p * (double)(n_samples - 1) + 0.5);
	return samples[i];
}

int main(int argc, char **argv)
{
	struct watcher *ws;
	struct pollfd *pfd;
	uint64_t expect = 0, deadline = 0, min = UINT64_MAX, max = 0, gaps = 0, dropped = 0;
	bool have_expect = false, eof = false;
	const char *marker;
	size_t marker_len;
	int conns, wait_s = 10;

	if (argc < 4 || argc > 5) {
		fprintf(stderr, "Usage: watch_client SOCKET CONNS MARKER [WAIT_SECONDS]\n");
		return 2;
	}
	conns = atoi(argv[2]);
	marker = argv[3];
	marker_len = strlen(marker);
	if (argc == 5)
		wait_s = atoi(argv[4]);
	if (conns < 1) {
		fprintf(stderr, "watch_client: CONNS must be at least 1\n");
		return 2;
	}
	ws = calloc((size_t)conns, sizeof(*ws));
	pfd = calloc((size_t)conns + 1, sizeof(*pfd));
	if (!ws || !pfd)
		return 1;
	for (int i = 0; i < conns; i++) {
		ws[i].fd = connect_watch(argv[1]);
		ws[i].buf = malloc(BUF_SIZE);
		if (!ws[i].buf)
			return 1;
	}
	/* Every watcher is registered once its first reply is in. */
	for (int i = 0; i < conns; i++) {
		struct pollfd p = { .fd = ws[i].fd, .events = POLLIN };

		while (!ws[i].started && !ws[i].dead) {
			if (poll(&p, 1, 5000) <= 0) {
				fprintf(stderr, "watch_client: no first reply\n");
				return 1;
			}
			pump(&ws[i], marker, marker_len);
		}
	}
	if (errors)
		return 1;
	printf("ready\n");
	fflush(stdout);

	for (;;) {
		uint64_t now = now_usec(CLOCK_MONOTONIC);
		bool done = have_expect;
		int n = 0;

		for (int i = 0; i < conns; i++) {
			done &= ws[i].dead || ws[i].marker >= expect;
			pfd[i].fd = ws[i].dead ? -1 : ws[i].fd;
			pfd[i].events = POLLIN;
		}
		if (done || eof || (have_expect && now >= deadline))
			break;
		pfd[conns].fd = 0;
		pfd[conns].events = POLLIN;
		n = poll(pfd, (nfds_t)conns + 1, 100);
		if (n < 0 && errno != EINTR) {
			perror("watch_client: poll");
			return 1;
		}
		for (int i = 0; i < conns; i++)
			if (pfd[i].revents)
				pump(&ws[i], marker, marker_len);
		if (pfd[conns].revents && read_command(&eof, &expect)) {
			have_expect = true;
			deadline = now_usec(CLOCK_MONOTONIC) + (uint64_t)wait_s * 1000000u;
		}
	}

	for (int i = 0; i < conns; i++) {
		min = ws[i].marker < min ? ws[i].marker : min;
		max = ws[i].marker > max ? ws[i].marker : max;
		gaps += ws[i].gaps;
		dropped += ws[i].dropped;
	}
	qsort(samples, n_samples, sizeof(*samples), cmp_u32);
	printf("conns=%d marker_min=%llu marker_max=%llu gaps=%llu dropped=%llu errors=%d "
	       "samples=%zu lat_p50_us=%.0f lat_p99_us=%.0f lat_max_us=%.0f\n",
	       conns, (unsigned long long)min, (unsigned long long)max, (unsigned long long)gaps,
	       (unsigned long long)dropped, errors, n_samples, percentile(0.50), percentile(0.99),
	       percentile(1.0));
	fflush(stdout);
	for (int i = 0; i < conns; i++) {
		close(ws[i].fd);
		free(ws[i].buf);
	}
	free(ws);
	free(pfd);
	free(samples);
	return errors ? 1 : 0;
}
