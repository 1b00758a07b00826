// SPDX-License-Identifier: LGPL-2.1-or-later
#include "eventlog.h"
#include "args_text.h"
#include "clock.h"
#include "exec_id.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* Lines held while the output takes none: a few seconds of a busy host. */
#define BUFFER_SIZE (1024 * 1024)
/* Any line: the escaped arguments the longest. */
#define LINE_SIZE 8192
/* How long print_sink_stop() waits for a stalled reader, at most. */
#define STOP_WAIT_USEC (1000 * 1000)

struct print_sink {
	struct events *ev;
	int handle; /* of the sink in ev */
	int fd; /* where lines go */
	bool own_fd; /* a description of our own, closed at stop */
	bool is_socket; /* written with MSG_DONTWAIT */
	int restore_flags; /* the shared description's flags to put back, or -1 */
	sd_event_source *io; /* room again in fd; NULL when fd cannot be waited on (a file) */
	bool waiting; /* fd took no more: io is on */
	/* Whole lines buf[start..end), the first perhaps partly written already. */
	char *buf;
	size_t start, end;
	uint64_t written, dropped;
};

static struct print_sink *sink;

/* message= is always in double quotes: the rule of the arguments, quoted. */
static void format_quoted(char *out, size_t size, const char *s)
{
	char text[GREETER_ARGS_TEXT_SIZE(GREETER_MESSAGE_SIZE)];

	greeter_args_text(text, sizeof(text), s, 1);
	/* Unquoted, it holds no quote and no space: quotes around it change nothing. */
	snprintf(out, size, text[0] == '"' ? "%s" : "\"%s\"", text);
}

/* " exec=ID parent=ID": the ids, each when known; digits, hex and dashes only. */
static void format_ids(const struct greeter_event *e, char *out, size_t size)
{
	char id[EXEC_ID_SIZE], parent[EXEC_ID_SIZE];

	exec_id_format(id, e->exec_ns, e->pid);
	exec_id_format(parent, e->parent_exec_ns, e->parent_pid);
	snprintf(out, size, "%s%s%s%s", id[0] ? " exec=" : "", id, parent[0] ? " parent=" : "",
		 parent);
}

/* An exit: "seq=N exit pid=... unit=U exec=ID code=7 duration_usec=D" (or signal=9 core). */
static void format_exit(const struct greeter_event *e, const char *comm, const char *file,
			const char *unit, const char *ids, char *out, size_t size)
{
	char how[32];

	if ((e->exit_status & 0x7f) == 0)
		snprintf(how, sizeof(how), "code=%u", (e->exit_status >> 8) & 0xff);
	else
		snprintf(how, sizeof(how), "signal=%u%s", e->exit_status & 0x7f,
			 (e->exit_status & 0x80) ? " core" : "");
	snprintf(out, size,
		 "seq=%llu exit pid=%u ppid=%u uid=%u comm=%s file=%s unit=%s%s %s "
		 "duration_usec=%llu\n",
		 (unsigned long long)e->seq, e->pid, e->ppid, e->uid, comm, file, unit, ids, how,
		 (unsigned long long)event_duration_usec(e));
}

/*
 * Every string a client or the kernel chose (comm, file, message, unit,
 * arguments) is escaped and quoted as the arguments are (common/args_text.h),
 * so that no value can produce another field: a comm "c uid=0" is
 * comm="c uid=0". The arguments last: they hold spaces. An exit's line says
 * "exit" second, where an exec's says pid=: no parser of exec lines takes it
 * for one.
 */
static void format_line(const struct greeter_event *e, char *out, size_t size)
{
	char comm[GREETER_ARGS_TEXT_SIZE(GREETER_COMM_SIZE)];
	char file[GREETER_ARGS_TEXT_SIZE(GREETER_FILENAME_SIZE)];
	char msg[GREETER_ARGS_TEXT_SIZE(GREETER_MESSAGE_SIZE) + 2];
	char unit[GREETER_ARGS_TEXT_SIZE(GREETER_UNIT_SIZE)];
	char args[GREETER_ARGS_TEXT_SIZE(GREETER_ARGS_SIZE)];
	char ids[2 * (EXEC_ID_SIZE + 8)];
	bool have_args = e->flags & GREETER_EVENT_ARGS;

	greeter_args_text(comm, sizeof(comm), e->comm, 1);
	greeter_args_text(file, sizeof(file), e->filename, 1);
	greeter_args_text(unit, sizeof(unit), e->unit, 1);
	format_ids(e, ids, sizeof(ids));
	if (e->kind == GREETER_KIND_EXIT) {
		format_exit(e, comm, file, unit, ids, out, size);
		return;
	}
	format_quoted(msg, sizeof(msg), e->message);
	if (have_args)
		greeter_args_text(args, sizeof(args), e->args, e->args_count);
	snprintf(out, size,
		 "seq=%llu pid=%u ppid=%u uid=%u comm=%s file=%s message=%s%s unit=%s%s%s%s%s\n",
		 (unsigned long long)e->seq, e->pid, e->ppid, e->uid, comm, file, msg,
		 (e->flags & GREETER_EVENT_FAILED) ? " failed" : "", unit, ids,
		 (e->flags & GREETER_EVENT_ARGS_TRUNCATED) ? " args_truncated" : "",
		 have_args ? " args=" : "", have_args ? args : "");
}

static size_t count_lines(const char *b, size_t n)
{
	size_t lines = 0;
	const char *nl;

	while (n && (nl = memchr(b, '\n', n))) {
		lines++;
		n -= (size_t)(nl - b) + 1;
		b = nl + 1;
	}
	return lines;
}

/*
 * Whole lines, PIPE_BUF bytes at most: a pipe (and a stream socket) takes
 * those all or nothing, so a reader that stalls never holds half a line.
 * A longer line (long arguments) goes alone; its rest follows when there
 * is room again.
 */
static size_t next_chunk(const struct print_sink *p)
{
	const char *b = p->buf + p->start, *nl;
	size_t len = p->end - p->start, n = 0;

	while ((nl = memchr(b + n, '\n', len - n)) && (size_t)(nl - b) < PIPE_BUF)
		n = (size_t)(nl - b) + 1;
	if (!n) {
		nl = memchr(b, '\n', len);
		n = nl ? (size_t)(nl - b) + 1 : len;
	}
	return n;
}

static void set_waiting(struct print_sink *p, bool on)
{
	if (p->io && p->waiting != on)
		sd_event_source_set_enabled(p->io, on ? SD_EVENT_ON : SD_EVENT_OFF);
	p->waiting = on && p->io;
}

/* Write what fd takes now; false when it took not all (and io waits for room). */
static bool flush(struct print_sink *p)
{
	while (p->start < p->end) {
		size_t n = next_chunk(p);
		ssize_t w = p->is_socket
			? send(p->fd, p->buf + p->start, n, MSG_DONTWAIT | MSG_NOSIGNAL)
			: write(p->fd, p->buf + p->start, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w == 0 || (w < 0 && errno == EAGAIN)) {
			set_waiting(p, true);
			return false;
		}
		if (w < 0) {
			/* No reader any more, a full disk: what waits is lost, counted. */
			p->dropped += count_lines(p->buf + p->start, p->end - p->start);
			break;
		}
		p->written += count_lines(p->buf + p->start, (size_t)w);
		p->start += (size_t)w;
	}
	p->start = p->end = 0;
	set_waiting(p, false);
	return true;
}

static int on_writable(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	flush(userdata);
	return 0;
}

static void on_event(const struct greeter_event *e, void *userdata)
{
	static char line[LINE_SIZE];
	struct print_sink *p = userdata;
	size_t n, held;

	format_line(e, line, sizeof(line));
	n = strlen(line);
	line[n - 1] = '\n'; /* were it ever cut short, still one line */
	held = p->end - p->start;
	/* Move the lines held to the front only when that frees as much as it moves. */
	if (p->end + n > BUFFER_SIZE && p->start >= held) {
		memmove(p->buf, p->buf + p->start, held);
		p->start = 0;
		p->end = held;
	}
	if (p->end + n > BUFFER_SIZE) {
		p->dropped++;
		return;
	}
	memcpy(p->buf + p->end, line, n);
	p->end += n;
	if (!p->waiting)
		flush(p);
}

/*
 * O_NONBLOCK on the description standard output shares (with standard
 * error, with the terminal of the shell that started greeterd) would change
 * it for them too. A socket (the journal's stream under systemd) takes
 * MSG_DONTWAIT instead; a pipe or a terminal is opened again, as a
 * description of our own; only when that fails is the shared one made
 * non-blocking, and put back at stop. A file never waits for a reader.
 */
static int open_output(struct print_sink *p, int fd)
{
	char path[64];
	struct stat st;
	int flags;

	p->fd = fd;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISSOCK(st.st_mode)) {
		p->is_socket = true;
		return 0;
	}
	if (!S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode))
		return 0;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	p->fd = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (p->fd >= 0) {
		p->own_fd = true;
		return 0;
	}
	p->fd = fd;
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return -errno;
	p->restore_flags = flags;
	return 0;
}

static void release(struct print_sink *p)
{
	sd_event_source_disable_unref(p->io);
	if (p->own_fd)
		close(p->fd);
	if (p->restore_flags >= 0)
		fcntl(p->fd, F_SETFL, p->restore_flags);
	free(p->buf);
	free(p);
}

int print_sink_start(sd_event *loop, struct events *ev, int fd)
{
	struct print_sink *p = calloc(1, sizeof(*p));
	int r;

	if (!p)
		return -ENOMEM;
	p->restore_flags = -1;
	p->buf = malloc(BUFFER_SIZE);
	if (!p->buf) {
		r = -ENOMEM;
		goto fail;
	}
	r = open_output(p, fd);
	if (r < 0)
		goto fail;
	r = sd_event_add_io(loop, &p->io, p->fd, EPOLLOUT, on_writable, p);
	/* epoll refuses a file: it always has room. */
	if (r < 0 && r != -EPERM)
		goto fail;
	if (p->io)
		sd_event_source_set_enabled(p->io, SD_EVENT_OFF);
	r = events_add_sink(ev, on_event, p);
	if (r < 0)
		goto fail;
	p->ev = ev;
	p->handle = r;
	sink = p;
	return 0;
fail:
	log_error("cannot print events on standard output: %s", strerror(-r));
	release(p);
	return r;
}

void print_sink_stop(void)
{
	struct print_sink *p = sink;
	uint64_t deadline = now_usec(CLOCK_MONOTONIC) + STOP_WAIT_USEC, now;

	if (!p)
		return;
	events_remove_sink(p->ev, p->handle);
	while (!flush(p) && (now = now_usec(CLOCK_MONOTONIC)) < deadline) {
		struct pollfd pfd = { .fd = p->fd, .events = POLLOUT };

		if (poll(&pfd, 1, (int)((deadline - now + 999) / 1000)) == 0)
			break;
	}
	p->dropped += count_lines(p->buf + p->start, p->end - p->start);
	if (p->dropped)
		log_warning("--print-events: %llu event(s) dropped, which standard output did not "
			    "take; %llu written",
			    (unsigned long long)p->dropped, (unsigned long long)p->written);
	release(p);
	sink = NULL;
}

uint64_t print_sink_dropped(void)
{
	return sink ? sink->dropped : 0;
}
