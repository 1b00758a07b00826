// SPDX-License-Identifier: LGPL-2.1-or-later
#include "event_record.h"

#include <errno.h>
#include <string.h>

/* Copy n bytes into a string buffer of size bytes, cut and NUL-terminated. */
static void copy_string(char *out, size_t size, const char *in, size_t n)
{
	if (n > size - 1)
		n = size - 1;
	memcpy(out, in, n);
	out[n] = '\0';
}

static int decode_v2(const void *data, size_t size, struct greeter_event *e)
{
	struct greeter_event_v2 r;

	if (size < sizeof(r))
		return -EBADMSG;
	memcpy(&r, data, sizeof(r));
	memset(e, 0, offsetof(struct greeter_event, args));
	e->args[0] = '\0';
	e->seq = r.seq;
	e->boot_ns = r.boot_ns;
	e->pid = r.pid;
	e->ppid = r.ppid;
	e->uid = r.uid;
	e->gid = r.gid;
	e->error = r.error;
	/* Only the flags that layout knew. */
	e->flags = r.flags & (GREETER_EVENT_FAILED | GREETER_EVENT_NO_CALLER);
	e->source = r.source;
	e->kind = GREETER_KIND_EXEC;
	e->exec_ns = (e->flags & GREETER_EVENT_FAILED) ? 0 : r.boot_ns;
	copy_string(e->comm, sizeof(e->comm), r.comm, strnlen(r.comm, sizeof(r.comm)));
	copy_string(e->filename, sizeof(e->filename), r.filename,
		    strnlen(r.filename, sizeof(r.filename)));
	copy_string(e->message, sizeof(e->message), r.message,
		    strnlen(r.message, sizeof(r.message)));
	return 0;
}

/*
 * Split the argument bytes: each argument ends in a NUL, the last perhaps
 * not (cut in the kernel). At most GREETER_ARGS_MAX arguments are kept.
 */
static void split_args(struct greeter_event *e, const char *in, size_t n)
{
	size_t used = 0, i = 0;

	e->args_count = 0;
	if (n > GREETER_ARGS_SIZE) {
		n = GREETER_ARGS_SIZE;
		e->flags |= GREETER_EVENT_ARGS_TRUNCATED;
	}
	while (i < n) {
		const char *nul = memchr(in + i, '\0', n - i);
		size_t len = nul ? (size_t)(nul - (in + i)) : n - i;

		if (e->args_count == GREETER_ARGS_MAX) {
			e->flags |= GREETER_EVENT_ARGS_TRUNCATED;
			break;
		}
		memcpy(e->args + used, in + i, len);
		used += len;
		e->args[used++] = '\0';
		e->args_count++;
		i += len + 1;
	}
	e->args_len = (__u16)used;
}

/* The strings of a record, in the order they come, each into its field. */
struct record_string {
	char *out;
	size_t size;
	size_t len;
};

static int take_strings(const char *p, size_t room, struct record_string *s, size_t n)
{
	size_t total = 0;

	for (size_t i = 0; i < n; i++)
		total += s[i].len;
	if (total > room)
		return -EBADMSG;
	for (size_t i = 0; i < n; i++) {
		copy_string(s[i].out, s[i].size, p, s[i].len);
		p += s[i].len;
	}
	return 0;
}

static void take_args(struct greeter_event *e, const char *p, size_t len)
{
	e->args_count = 0;
	e->args_len = 0;
	e->args[0] = '\0';
	if (e->flags & GREETER_EVENT_ARGS)
		split_args(e, p, len);
}

static int decode_v3(const void *data, size_t size, struct greeter_event *e)
{
	struct greeter_record_v3 r;
	const char *p = (const char *)data + sizeof(r);
	int err;

	if (size < sizeof(r))
		return -EBADMSG;
	memcpy(&r, data, sizeof(r));
	struct record_string s[] = {
		{ e->comm, sizeof(e->comm), r.comm_len },
		{ e->message, sizeof(e->message), r.message_len },
		{ e->unit, sizeof(e->unit), r.unit_len },
		{ e->filename, sizeof(e->filename), r.filename_len },
		{ NULL, 0, r.args_len },
	};
	if ((size_t)r.comm_len + r.message_len + r.unit_len + r.filename_len + r.args_len >
	    size - sizeof(r))
		return -EBADMSG;
	memset(e, 0, offsetof(struct greeter_event, args));
	e->seq = r.seq;
	e->boot_ns = r.boot_ns;
	e->cgroup_id = r.cgroup_id;
	e->pid = r.pid;
	e->ppid = r.ppid;
	e->uid = r.uid;
	e->gid = r.gid;
	e->error = r.error;
	e->flags = r.flags;
	e->source = r.source;
	e->kind = GREETER_KIND_EXEC;
	/* An exec's id is its time and pid: records of ABI 3 have one too. */
	e->exec_ns = (r.flags & GREETER_EVENT_FAILED) ? 0 : r.boot_ns;
	err = take_strings(p, size - sizeof(r), s, 4);
	if (err)
		return err;
	p += r.comm_len + r.message_len + r.unit_len + r.filename_len;
	take_args(e, p, r.args_len);
	return 0;
}

static int decode_v4(const void *data, size_t size, struct greeter_event *e)
{
	struct greeter_record r;
	const char *p = (const char *)data + sizeof(r);
	size_t before_args;
	int err;

	if (size < sizeof(r))
		return -EBADMSG;
	memcpy(&r, data, sizeof(r));
	struct record_string s[] = {
		{ e->comm, sizeof(e->comm), r.comm_len },
		{ e->message, sizeof(e->message), r.message_len },
		{ e->unit, sizeof(e->unit), r.unit_len },
		{ e->filename, sizeof(e->filename), r.filename_len },
		{ e->parent_comm, sizeof(e->parent_comm), r.parent_comm_len },
		{ e->parent_file, sizeof(e->parent_file), r.parent_file_len },
	};
	before_args = (size_t)r.comm_len + r.message_len + r.unit_len + r.filename_len +
		      r.parent_comm_len + r.parent_file_len;
	if (r.kind > GREETER_KIND_EXIT || before_args + r.args_len > size - sizeof(r))
		return -EBADMSG;
	memset(e, 0, offsetof(struct greeter_event, args));
	e->seq = r.seq;
	e->boot_ns = r.boot_ns;
	e->cgroup_id = r.cgroup_id;
	e->exec_ns = r.exec_ns;
	e->parent_exec_ns = r.parent_exec_ns;
	e->pid = r.pid;
	e->ppid = r.ppid;
	e->uid = r.uid;
	e->gid = r.gid;
	e->parent_pid = r.parent_pid;
	e->exit_status = r.exit_status;
	e->error = r.error;
	e->flags = r.flags;
	e->source = r.source;
	e->kind = r.kind;
	err = take_strings(p, size - sizeof(r), s, sizeof(s) / sizeof(s[0]));
	if (err)
		return err;
	take_args(e, p + before_args, r.args_len);
	return 0;
}

int event_record_decode(const void *data, size_t size, unsigned abi, struct greeter_event *e)
{
	if (abi >= GREETER_EVENT_ABI_MIN && abi < GREETER_RECORD_ABI)
		return decode_v2(data, size, e);
	if (abi >= GREETER_RECORD_ABI && abi < GREETER_LIFE_ABI)
		return decode_v3(data, size, e);
	if (abi >= GREETER_LIFE_ABI && abi <= GREETER_ABI_VERSION)
		return decode_v4(data, size, e);
	return -EPROTO;
}

const char *event_next_arg(const struct greeter_event *e, const char *arg)
{
	const char *end = e->args + e->args_len;

	if (!arg)
		return e->args_count ? e->args : NULL;
	arg += strlen(arg) + 1;
	return arg < end ? arg : NULL;
}

const char *event_source_name(unsigned source)
{
	if (source == GREETER_SOURCE_UID)
		return "uid";
	return source == GREETER_SOURCE_DEFAULT ? "default" : "builtin";
}

uint64_t event_duration_usec(const struct greeter_event *e)
{
	return e->boot_ns > e->exec_ns ? (e->boot_ns - e->exec_ns) / 1000 : 0;
}
