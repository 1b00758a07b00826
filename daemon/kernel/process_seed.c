// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * A new process table gets the processes already running, read from /proc
 * once the programs run (so none is missed between): their exits are
 * reported, and the execs they start have parents. An exec seen meanwhile
 * wins (BPF_NOEXIST). /proc gives start times in 10 ms ticks: a seeded
 * entry's start is cut to the tick, as the programs expect.
 */
#include "pins_internal.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define TICK_NS 10000000ULL /* USER_HZ is 100 */
#define PF_KTHREAD 0x00200000u

struct seeded {
	__u32 pid;
	__u32 ppid;
	__u64 start_ns;
	struct greeter_process v;
};

/* A small /proc file's text, NUL-terminated; -1 when it cannot be read. */
static ssize_t read_text(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

/* pid's stat: comm, ppid, flags, start; false for a kernel thread or one gone. */
static bool read_stat(__u32 pid, struct seeded *s)
{
	char path[64], buf[1024], *open_paren, *close_paren, *p;
	unsigned long long start = 0;
	unsigned long flags = 0;
	int ppid = 0;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	if (read_text(path, buf, sizeof(buf)) < 0)
		return false;
	/* comm may hold anything, parentheses included: it ends at the last ')'. */
	open_paren = strchr(buf, '(');
	close_paren = strrchr(buf, ')');
	if (!open_paren || !close_paren || close_paren < open_paren)
		return false;
	n = (size_t)(close_paren - open_paren - 1);
	if (n > sizeof(s->v.comm) - 1)
		n = sizeof(s->v.comm) - 1;
	memcpy(s->v.comm, open_paren + 1, n);
	s->v.comm[n] = '\0';
	/* After the comm: state ppid pgrp session tty tpgid flags ... starttime (the 20th). */
	p = close_paren + 2;
	if (sscanf(p, "%*c %d %*d %*d %*d %*d %lu %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
		   &ppid, &flags, &start) != 3)
		return false;
	if (flags & PF_KTHREAD)
		return false;
	s->ppid = ppid > 0 ? (__u32)ppid : 0;
	s->start_ns = start * TICK_NS;
	return true;
}

/* The real UID and GID (status' first column). */
static void read_ids(__u32 pid, struct greeter_process *v)
{
	char path[64], buf[4096], *line;
	unsigned uid = 0, gid = 0;

	snprintf(path, sizeof(path), "/proc/%u/status", pid);
	if (read_text(path, buf, sizeof(buf)) < 0)
		return;
	if ((line = strstr(buf, "\nUid:")))
		sscanf(line + 5, "%u", &uid);
	if ((line = strstr(buf, "\nGid:")))
		sscanf(line + 5, "%u", &gid);
	v->uid = uid;
	v->gid = gid;
}

/* The leaf of the cgroup v2 path ("0::/system.slice/ssh.service"), as the programs read it. */
static void read_unit(__u32 pid, struct greeter_process *v)
{
	char path[64], buf[4096], *line, *end, *leaf;
	size_t n;

	v->unit[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%u/cgroup", pid);
	if (read_text(path, buf, sizeof(buf)) < 0)
		return;
	line = strncmp(buf, "0::", 3) == 0 ? buf : strstr(buf, "\n0::");
	if (!line)
		return;
	line += line == buf ? 3 : 4;
	end = strchr(line, '\n');
	if (end)
		*end = '\0';
	leaf = strrchr(line, '/');
	leaf = leaf ? leaf + 1 : line;
	n = strlen(leaf);
	if (n > sizeof(v->unit) - 1)
		n = sizeof(v->unit) - 1;
	memcpy(v->unit, leaf, n);
	v->unit[n] = '\0';
}

static int by_pid(const void *a, const void *b)
{
	__u32 x = ((const struct seeded *)a)->pid, y = ((const struct seeded *)b)->pid;

	return x < y ? -1 : x > y;
}

/* Processes /proc lists now, at most max; their count, or -errno. */
static int collect(struct seeded *out, size_t max)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	size_t n = 0;

	if (!d)
		return -errno;
	while (n < max && (de = readdir(d))) {
		char path[64];
		ssize_t len;
		unsigned long pid;
		char *end;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = strtoul(de->d_name, &end, 10);
		if (*end || pid == 0 || pid > UINT32_MAX)
			continue;
		memset(&out[n], 0, sizeof(out[n]));
		out[n].pid = (__u32)pid;
		if (!read_stat(out[n].pid, &out[n]))
			continue;
		read_ids(out[n].pid, &out[n].v);
		read_unit(out[n].pid, &out[n].v);
		snprintf(path, sizeof(path), "/proc/%lu/exe", pid);
		len = readlink(path, out[n].v.file, sizeof(out[n].v.file) - 1);
		if (len < 0)
			len = 0;
		out[n].v.file[len] = '\0';
		n++;
	}
	closedir(d);
	return (int)n;
}

void process_seed(int table_fd, int stats_fd)
{
	struct seeded *all = calloc(GREETER_PROCESS_MAX, sizeof(*all));
	int ncpu = libbpf_num_possible_cpus(), n;
	__u32 stat = GREETER_STAT_TABLE_SEEDED;
	__u64 *counts;
	size_t added = 0;

	n = all ? collect(all, GREETER_PROCESS_MAX) : -ENOMEM;
	if (n < 0) {
		log_warning("cannot put the running processes into the process table (%s): "
			    "their exits go unreported, and the execs they start carry no parent",
			    strerror(-n));
		free(all);
		return;
	}
	qsort(all, (size_t)n, sizeof(*all), by_pid);
	for (int i = 0; i < n; i++) {
		struct seeded key = { .pid = all[i].ppid }, *parent;
		struct greeter_process *v = &all[i].v;

		parent = all[i].ppid ? bsearch(&key, all, (size_t)n, sizeof(*all), by_pid) : NULL;
		v->task_start_ns = v->exec_ns = all[i].start_ns;
		v->parent_pid = parent ? parent->pid : 0;
		v->parent_exec_ns = parent ? parent->start_ns : 0;
		v->flags = GREETER_PROCESS_SEEDED;
		if (bpf_map_update_elem(table_fd, &all[i].pid, v, BPF_NOEXIST) == 0)
			added++;
	}
	free(all);
	/* Beside the programs' counts: what left the table for room is added less removed and held. */
	counts = ncpu > 0 ? calloc((size_t)ncpu, sizeof(*counts)) : NULL;
	if (counts) {
		counts[0] = added;
		bpf_map_update_elem(stats_fd, &stat, counts, BPF_ANY);
		free(counts);
	}
	log_debug("put %zu running processes into the process table", added);
}
