// SPDX-License-Identifier: LGPL-2.1-or-later
#include "eventlog.h"
#include "args_text.h"
#include "escape.h"
#include "exec_id.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define JOURNAL_SOCKET "/run/systemd/journal/socket"

static int journal_fd = -1;
static uint64_t dropped;

/*
 * sd_journal_send() blocks while journald's queue is full, and would stall
 * the event loop with it. A non-blocking socket of our own speaking the
 * journal's native protocol drops (and counts) instead, as a slow watcher does.
 */
static int journal_socket(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (journal_fd >= 0)
		return journal_fd;
	journal_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (journal_fd < 0)
		return -1;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", JOURNAL_SOCKET);
	if (connect(journal_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(journal_fd);
		journal_fd = -1;
	}
	return journal_fd;
}

struct entry {
	/*
	 * The fields, GREETER_ARGS (4 KiB escaped at most) the longest; the
	 * file three times (MESSAGE, GREETER_FILENAME, the parent's), 1 KiB each.
	 */
	char buf[GREETER_ARGS_TEXT_SIZE(GREETER_ARGS_SIZE) + 6144];
	size_t len;
};

static void add(struct entry *en, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One KEY=value line; values are escaped, so they hold no newline. */
static void add(struct entry *en, const char *fmt, ...)
{
	size_t room = sizeof(en->buf) - en->len;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(en->buf + en->len, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n + 1 >= room)
		return;
	en->len += (size_t)n;
	en->buf[en->len++] = '\n';
}

/* The exec ids and the parent, each when known (exits have no parent comm or file). */
static void add_ids(struct entry *en, const struct greeter_event *e)
{
	char id[EXEC_ID_SIZE];
	char pcomm[GREETER_ESCAPED_SIZE(GREETER_COMM_SIZE)];
	char pfile[GREETER_ESCAPED_SIZE(GREETER_FILENAME_SIZE)];

	exec_id_format(id, e->exec_ns, e->pid);
	if (id[0])
		add(en, "GREETER_EXEC_ID=%s", id);
	if (!e->parent_exec_ns)
		return;
	exec_id_format(id, e->parent_exec_ns, e->parent_pid);
	add(en, "GREETER_PARENT_EXEC_ID=%s", id);
	add(en, "GREETER_PARENT_PID=%u", e->parent_pid);
	if (e->kind != GREETER_KIND_EXEC)
		return;
	greeter_escape(pcomm, sizeof(pcomm), e->parent_comm, sizeof(e->parent_comm));
	greeter_escape(pfile, sizeof(pfile), e->parent_file, sizeof(e->parent_file));
	add(en, "GREETER_PARENT_COMM=%s", pcomm);
	add(en, "GREETER_PARENT_FILE=%s", pfile);
}

/* An exit's MESSAGE and outcome: "sleep (pid 123) exited with status 7 after 1.002 s". */
static void add_exit(struct entry *en, const struct greeter_event *e, const char *comm)
{
	uint64_t usec = event_duration_usec(e);
	char how[48];

	if ((e->exit_status & 0x7f) == 0)
		snprintf(how, sizeof(how), "exited with status %u", (e->exit_status >> 8) & 0xff);
	else
		snprintf(how, sizeof(how), "killed by signal %u%s", e->exit_status & 0x7f,
			 (e->exit_status & 0x80) ? " (core dumped)" : "");
	add(en, "MESSAGE=%s (pid %u) %s after %llu.%03llu s", comm, e->pid, how,
	    (unsigned long long)(usec / 1000000), (unsigned long long)(usec / 1000 % 1000));
	add(en, "MESSAGE_ID=%s", GREETER_JOURNAL_EXIT_MESSAGE_ID);
	if ((e->exit_status & 0x7f) == 0) {
		add(en, "GREETER_EXIT_CODE=%u", (e->exit_status >> 8) & 0xff);
	} else {
		add(en, "GREETER_SIGNAL=%u", e->exit_status & 0x7f);
		add(en, "GREETER_CORE_DUMPED=%d", (e->exit_status & 0x80) != 0);
	}
	add(en, "GREETER_DURATION_USEC=%llu", (unsigned long long)usec);
}

void journal_event(const struct greeter_event *e, void *userdata)
{
	char comm[GREETER_ESCAPED_SIZE(GREETER_COMM_SIZE)];
	char file[GREETER_ESCAPED_SIZE(GREETER_FILENAME_SIZE)];
	char msg[GREETER_ESCAPED_SIZE(GREETER_MESSAGE_SIZE)];
	char unit[GREETER_ESCAPED_SIZE(GREETER_UNIT_SIZE)];
	char args[GREETER_ARGS_TEXT_SIZE(GREETER_ARGS_SIZE)];
	static struct entry en; /* 10 KiB: off the stack; one event at a time */
	bool is_exit = e->kind == GREETER_KIND_EXIT;
	int fd = journal_socket();

	if (fd < 0) {
		dropped++;
		return;
	}
	greeter_escape(comm, sizeof(comm), e->comm, sizeof(e->comm));
	greeter_escape(file, sizeof(file), e->filename, sizeof(e->filename));
	greeter_escape(msg, sizeof(msg), e->message, sizeof(e->message));
	greeter_escape(unit, sizeof(unit), e->unit, sizeof(e->unit));
	en.len = 0;
	if (is_exit) {
		add_exit(&en, e, comm);
	} else {
		add(&en, "MESSAGE=%s: %s (pid %u, uid %u, by %s)", file, msg, e->pid, e->uid, comm);
		add(&en, "MESSAGE_ID=%s", GREETER_JOURNAL_MESSAGE_ID);
	}
	add(&en, "PRIORITY=6");
	add(&en, "SYSLOG_IDENTIFIER=greeterd");
	add(&en, "GREETER_SCHEMA=%d", GREETER_JOURNAL_SCHEMA);
	add(&en, "GREETER_KIND=%s", is_exit ? "exit" : "exec");
	add(&en, "GREETER_SEQ=%llu", (unsigned long long)e->seq);
	add(&en, "GREETER_PID=%u", e->pid);
	add(&en, "GREETER_PPID=%u", e->ppid);
	add(&en, "GREETER_UID=%u", e->uid);
	add(&en, "GREETER_GID=%u", e->gid);
	add(&en, "GREETER_COMM=%s", comm);
	add(&en, "GREETER_FILENAME=%s", file);
	if (!is_exit) {
		add(&en, "GREETER_MESSAGE=%s", msg);
		add(&en, "GREETER_SOURCE=%s", event_source_name(e->source));
	}
	add(&en, "GREETER_UNIT=%s", unit);
	add(&en, "GREETER_CGROUP_ID=%llu", (unsigned long long)e->cgroup_id);
	add_ids(&en, e);
	if (e->flags & GREETER_EVENT_ARGS) {
		greeter_args_text(args, sizeof(args), e->args, e->args_count);
		add(&en, "GREETER_ARGS=%s", args);
		if (e->flags & GREETER_EVENT_ARGS_TRUNCATED)
			add(&en, "GREETER_ARGS_TRUNCATED=1");
	}
	if (e->flags & GREETER_EVENT_FAILED)
		add(&en, "GREETER_ERROR=%d", e->error);
	if (send(fd, en.buf, en.len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		dropped++;
		/* journald restarted: connect again next time. */
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			close(journal_fd);
			journal_fd = -1;
		}
	}
}

uint64_t journal_dropped(void)
{
	return dropped;
}
