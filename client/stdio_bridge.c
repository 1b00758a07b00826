// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * greeterctl stdio-bridge: greeterd's socket on standard input and output,
 * for a client on another host (greeterctl -H, varlinkctl's ssh-exec:) that
 * runs it through ssh. Bytes are copied both ways, never read: greeterd
 * answers the bridge's peer credentials, those of the ssh login user.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "greeterctl.h"
#include "varlink_client.h"

/* Each direction holds at most this much: a reader that stops stops its writer. */
#define BRIDGE_BUFFER (64u * 1024)

struct pipe_buf {
	char data[BRIDGE_BUFFER];
	size_t start, end;
	bool eof; /* nothing more will come in */
};

static size_t pending(const struct pipe_buf *b)
{
	return b->end - b->start;
}

static bool has_room(const struct pipe_buf *b)
{
	return b->end < sizeof(b->data);
}

/* Fill b from fd. Returns 0, or -errno (-EAGAIN: nothing there now). */
static int fill(struct pipe_buf *b, int fd, bool is_socket)
{
	ssize_t n;

	if (b->start == b->end)
		b->start = b->end = 0;
	if (is_socket)
		n = recv(fd, b->data + b->end, sizeof(b->data) - b->end, MSG_DONTWAIT);
	else
		n = read(fd, b->data + b->end, sizeof(b->data) - b->end);
	if (n < 0)
		return errno == EINTR ? -EAGAIN : -errno;
	if (n == 0)
		b->eof = true;
	b->end += (size_t)n;
	return 0;
}

/* Write what b holds to fd. Returns 0, or -errno (-EAGAIN: fd is full now). */
static int drain(struct pipe_buf *b, int fd, bool is_socket)
{
	ssize_t n;

	if (is_socket)
		n = send(fd, b->data + b->start, pending(b), MSG_DONTWAIT | MSG_NOSIGNAL);
	else
		n = write(fd, b->data + b->start, pending(b));
	if (n < 0)
		return errno == EINTR ? -EAGAIN : -errno;
	b->start += (size_t)n;
	if (b->start == b->end && !has_room(b))
		b->start = b->end = 0;
	return 0;
}

/* Non-blocking standard input and output for the copy; their flags put back after. */
struct saved_flags {
	int fd, flags;
};

static void set_nonblocking(struct saved_flags *s, int fd)
{
	s->fd = fd;
	s->flags = fcntl(fd, F_GETFL);
	if (s->flags >= 0 && !(s->flags & O_NONBLOCK))
		(void)fcntl(fd, F_SETFL, s->flags | O_NONBLOCK);
}

static void restore_flags(const struct saved_flags *s)
{
	if (s->flags >= 0)
		(void)fcntl(s->fd, F_SETFL, s->flags);
}

static int bridge_lost(const char *socket_path, int err)
{
	fprintf(stderr, "greeterctl stdio-bridge: the connection to greeterd at %s failed: %s\n",
		socket_path, strerror(err));
	return EXIT_NOT_RUNNING;
}

/*
 * Copy until greeterd has closed the connection and all it sent is written
 * (status 0), or the client is gone (status 0: nobody is left to tell).
 * Standard input's end is passed on as shutdown(SHUT_WR): greeterd still
 * answers the calls it has, and then closes.
 */
static int copy_both_ways(int sock, const char *socket_path)
{
	static struct pipe_buf up, down; /* client to greeterd, greeterd to client */
	bool shut_down = false;

	for (;;) {
		struct pollfd p[3] = {
			{ .fd = STDIN_FILENO, .events = 0 },
			{ .fd = STDOUT_FILENO, .events = 0 },
			{ .fd = sock, .events = 0 },
		};
		int r;

		if (!up.eof && has_room(&up))
			p[0].events |= POLLIN;
		else
			p[0].fd = -1; /* its hangup would wake us up for nothing */
		if (pending(&down))
			p[1].events |= POLLOUT;
		if (!down.eof && has_room(&down))
			p[2].events |= POLLIN;
		if (pending(&up))
			p[2].events |= POLLOUT;
		if (!p[2].events)
			p[2].fd = -1; /* a closed socket's hangup, the same */
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			return bridge_lost(socket_path, errno);
		}
		/* The reader of standard output is gone (POLLERR on a pipe, POLLHUP on a socket). */
		if (p[1].revents & (POLLERR | POLLHUP | POLLNVAL))
			return EXIT_OK;
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			r = fill(&up, STDIN_FILENO, false);
			if (r < 0 && r != -EAGAIN) {
				/* Standard input broke: as good as its end. */
				up.eof = true;
			}
		}
		if (p[2].revents & (POLLIN | POLLHUP | POLLERR)) {
			r = fill(&down, sock, true);
			/* A reset: greeterd is gone; what it sent before still goes out. */
			if (r == -ECONNRESET)
				down.eof = true;
			else if (r < 0 && r != -EAGAIN)
				return bridge_lost(socket_path, -r);
		}
		if (pending(&up)) {
			r = drain(&up, sock, true);
			/* greeterd no longer reads: its replies, if any, are still to come. */
			if (r == -EPIPE || r == -ECONNRESET) {
				up.start = up.end = 0;
				up.eof = true;
			} else if (r < 0 && r != -EAGAIN) {
				return bridge_lost(socket_path, -r);
			}
		}
		if (pending(&down)) {
			r = drain(&down, STDOUT_FILENO, false);
			if (r == -EPIPE)
				return EXIT_OK;
			if (r < 0 && r != -EAGAIN) {
				fprintf(stderr, "greeterctl stdio-bridge: cannot write to standard "
						"output: %s\n",
					strerror(-r));
				return EXIT_DAEMON;
			}
		}
		if (up.eof && !pending(&up) && !shut_down) {
			(void)shutdown(sock, SHUT_WR);
			shut_down = true;
		}
		if (down.eof && !pending(&down))
			return EXIT_OK;
	}
}

int cmd_stdio_bridge(const struct ctl_options *o, char **args)
{
	struct saved_flags in, out;
	int sock, r;

	if (isatty(STDIN_FILENO) || isatty(STDOUT_FILENO)) {
		fprintf(stderr, "greeterctl stdio-bridge: standard input and output are a "
				"terminal; this command is for ssh (greeterctl -H), not for people\n");
		return EXIT_USAGE;
	}
	sock = varlink_unix_connect(o->socket_path);
	if (sock < 0)
		return ctl_connect_error("greeterctl stdio-bridge", o->socket_path, sock);
	set_nonblocking(&in, STDIN_FILENO);
	set_nonblocking(&out, STDOUT_FILENO);
	r = copy_both_ways(sock, o->socket_path);
	restore_flags(&in);
	restore_flags(&out);
	close(sock);
	return r;
}
