// SPDX-License-Identifier: LGPL-2.1-or-later
#include "journal.h"
#include "escape.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#define MAX_FIELDS 16

struct fields {
	struct iovec iov[MAX_FIELDS];
	char buf[MAX_FIELDS][GREETER_ESCAPED_SIZE(GREETER_FILENAME_SIZE) + 32];
	int n;
};

static void add(struct fields *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(struct fields *f, const char *fmt, ...)
{
	va_list ap;
	int len;

	if (f->n >= MAX_FIELDS)
		return;
	va_start(ap, fmt);
	len = vsnprintf(f->buf[f->n], sizeof(f->buf[f->n]), fmt, ap);
	va_end(ap);
	if (len < 0)
		return;
	if ((size_t)len >= sizeof(f->buf[f->n]))
		len = (int)sizeof(f->buf[f->n]) - 1;
	f->iov[f->n].iov_base = f->buf[f->n];
	f->iov[f->n].iov_len = (size_t)len;
	f->n++;
}

static const char *source_name(__u8 source)
{
	if (source == GREETER_SOURCE_UID)
		return "uid";
	return source == GREETER_SOURCE_DEFAULT ? "default" : "builtin";
}

void journal_event(const struct greeter_event *e, void *userdata)
{
	char comm[GREETER_ESCAPED_SIZE(GREETER_COMM_SIZE)];
	char file[GREETER_ESCAPED_SIZE(GREETER_FILENAME_SIZE)];
	char msg[GREETER_ESCAPED_SIZE(GREETER_MESSAGE_SIZE)];
	struct fields f;

	/* Escaped: fields are single lines, and a terminal may show them. */
	greeter_escape(comm, sizeof(comm), e->comm, sizeof(e->comm));
	greeter_escape(file, sizeof(file), e->filename, sizeof(e->filename));
	greeter_escape(msg, sizeof(msg), e->message, sizeof(e->message));
	f.n = 0;
	add(&f, "MESSAGE=%s: %s (pid %u, uid %u, by %s)", file, msg, e->pid, e->uid, comm);
	add(&f, "MESSAGE_ID=%s", GREETER_JOURNAL_MESSAGE_ID);
	add(&f, "PRIORITY=6");
	add(&f, "SYSLOG_IDENTIFIER=greeterd");
	add(&f, "GREETER_SEQ=%llu", (unsigned long long)e->seq);
	add(&f, "GREETER_PID=%u", e->pid);
	add(&f, "GREETER_PPID=%u", e->ppid);
	add(&f, "GREETER_UID=%u", e->uid);
	add(&f, "GREETER_GID=%u", e->gid);
	add(&f, "GREETER_COMM=%s", comm);
	add(&f, "GREETER_FILENAME=%s", file);
	add(&f, "GREETER_MESSAGE=%s", msg);
	add(&f, "GREETER_SOURCE=%s", source_name(e->source));
	if (e->flags & GREETER_EVENT_FAILED)
		add(&f, "GREETER_ERROR=%d", e->error);
	/* No journal (not under systemd): nothing to do, and nothing to report per event. */
	(void)sd_journal_sendv(f.iov, f.n);
}
