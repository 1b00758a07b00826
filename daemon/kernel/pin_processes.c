// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The process table as greeterd reads it: how full it is, and a live
 * process's chain of execs, walked up the parents it records.
 */
#include "pins_internal.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <string.h>

__u64 pins_process_count(const struct pins *p)
{
	__u32 key, next;
	__u64 n = 0;
	void *prev = NULL;

	if (p->processes_fd < 0)
		return 0;
	/* At most GREETER_PROCESS_MAX keys; a key removed meanwhile restarts no walk. */
	while (n < 2 * GREETER_PROCESS_MAX && bpf_map_get_next_key(p->processes_fd, prev, &next) == 0) {
		n++;
		key = next;
		prev = &key;
	}
	return n;
}

static void copy_text(char *out, size_t size, const char *in, size_t in_size)
{
	size_t n = strnlen(in, in_size);

	if (n > size - 1)
		n = size - 1;
	memcpy(out, in, n);
	out[n] = '\0';
}

int pins_process_chain(const struct pins *p, __u32 pid, struct kernel_process *out, size_t max)
{
	struct greeter_process v;
	__u64 want_exec = 0;
	size_t n = 0;

	if (p->processes_fd < 0)
		return -ENOENT;
	while (n < max && pid) {
		if (bpf_map_lookup_elem(p->processes_fd, &pid, &v) < 0)
			break;
		/* The parent's exec, not a later one's of that pid (or of the same process). */
		if (want_exec && v.exec_ns != want_exec)
			break;
		out[n] = (struct kernel_process){ .pid = pid,
						  .exec_ns = v.exec_ns,
						  .uid = v.uid,
						  .seeded = (v.flags & GREETER_PROCESS_SEEDED) != 0 };
		copy_text(out[n].comm, sizeof(out[n].comm), v.comm, sizeof(v.comm));
		copy_text(out[n].file, sizeof(out[n].file), v.file, sizeof(v.file));
		copy_text(out[n].unit, sizeof(out[n].unit), v.unit, sizeof(v.unit));
		n++;
		if (pid == 1 || v.parent_pid == pid)
			break;
		pid = v.parent_pid;
		want_exec = v.parent_exec_ns;
		if (!want_exec)
			break;
	}
	return n ? (int)n : -ESRCH;
}
