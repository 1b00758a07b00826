// SPDX-License-Identifier: LGPL-2.1-or-later
#include "child.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define KEEP_MAX 4

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return x < y ? -1 : x > y;
}

/* In a child: close every descriptor of greeterd's but keep[] (clients, sockets, maps). */
static void keep_only(int *keep, size_t n)
{
	unsigned from = 3;

	qsort(keep, n, sizeof(*keep), cmp_int);
	for (size_t i = 0; i < n; i++) {
		if (keep[i] < (int)from)
			continue;
		if ((unsigned)keep[i] > from)
			close_range(from, (unsigned)keep[i] - 1, 0);
		from = (unsigned)keep[i] + 1;
	}
	close_range(from, ~0u, 0);
}

int child_spawn(struct child *c, sd_event *loop, sd_event_io_handler_t report, void *userdata,
		const int *keep, size_t n, child_body_fn body, void *arg)
{
	int sv[2], fds[KEEP_MAX + 1], r;
	pid_t pid, parent = getpid();

	if (n > KEEP_MAX)
		return -EINVAL;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	r = sd_event_add_io(loop, &c->src, sv[0], EPOLLIN, report, userdata);
	if (r < 0)
		goto fail;
	pid = fork();
	if (pid < 0) {
		r = -errno;
		c->src = sd_event_source_disable_unref(c->src);
		goto fail;
	}
	if (pid == 0) {
		/* Killed with greeterd: it would hold the lock from the next one. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(1);
		for (size_t i = 0; i < n; i++)
			fds[i] = keep[i];
		fds[n] = sv[1];
		keep_only(fds, n + 1);
		body(sv[1], arg);
		_exit(0);
	}
	close(sv[1]);
	c->pid = pid;
	c->fd = sv[0];
	return 0;
fail:
	close(sv[0]);
	close(sv[1]);
	return r;
}

void child_end(struct child *c, bool reap)
{
	c->src = sd_event_source_disable_unref(c->src);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	while (reap && c->pid && waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
		;
	c->pid = 0;
}

bool child_read(const struct child *c, void *rep, size_t size, int flags)
{
	ssize_t n;

	do
		n = recv(c->fd, rep, size, flags);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)size;
}
