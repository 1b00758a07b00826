// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * What greeterd reads of the kernel side while it runs: what the start
 * made, and the maps (counters, sequence numbers, read position, ring).
 */
#include "pins_internal.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int pins_read_stats(const struct pins *p, __u64 *out)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 *values;

	if (ncpu <= 0)
		return -EINVAL;
	values = calloc((size_t)ncpu, sizeof(*values));
	if (!values)
		return -ENOMEM;
	for (__u32 k = 0; k < GREETER_STAT_MAX; k++) {
		out[k] = 0;
		if (bpf_map_lookup_elem(p->stats_fd, &k, values) < 0)
			continue;
		for (int c = 0; c < ncpu; c++)
			out[k] += values[c];
	}
	free(values);
	return 0;
}

/*
 * Bytes of the ring buffer the kernel cannot write over: what it produced
 * past the position greeterd released (events retained and not yet read).
 */
static int ring_used(const struct pins *p, __u64 *used)
{
	long page = sysconf(_SC_PAGESIZE);
	const volatile __u64 *consumer, *producer;
	void *m;

	if (page <= 0 || p->events_fd < 0)
		return -EINVAL;
	/* A ring buffer map: the consumer position's page, then the producer's. */
	m = mmap(NULL, 2 * (size_t)page, PROT_READ, MAP_SHARED, p->events_fd, 0);
	if (m == MAP_FAILED)
		return -errno;
	consumer = m;
	producer = (const volatile __u64 *)((char *)m + page);
	*used = *producer - *consumer;
	munmap(m, 2 * (size_t)page);
	return 0;
}

int pins_stream(const struct pins *p, __u64 *last_seq, __u64 *stream_id)
{
	struct greeter_sequence seq = { 0 };
	__u32 zero = 0;
	int err = bpf_map_lookup_elem(p->sequence_fd, &zero, &seq) < 0 ? -errno : 0;

	*last_seq = seq.next;
	*stream_id = seq.stream_id;
	return err;
}

int pins_read_pos(const struct pins *p, __u64 *pos, __u64 *until)
{
	struct greeter_settings st;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(p->settings_fd, &zero, &st) < 0)
		return -errno;
	*pos = st.read_pos;
	*until = st.read_pos + st.handing;
	return 0;
}

int pins_store_read_pos(struct pins *p, __u64 pos, __u64 until)
{
	struct greeter_settings st;
	__u32 zero = 0;

	/* Only greeterd writes this map, and one greeterd at a time (the lock). */
	if (bpf_map_lookup_elem(p->settings_fd, &zero, &st) < 0)
		return -errno;
	st.read_pos = pos;
	/* A batch spans less than the ring, and a ring is at most 1 GiB. */
	st.handing = until > pos ? (__u32)(until - pos) : 0;
	return bpf_map_update_elem(p->settings_fd, &zero, &st, BPF_ANY) < 0 ? -errno : 0;
}

void pins_status(const struct pins *p, struct kernel_status *out)
{
	*out = (struct kernel_status){
		.attach_mode = attach_mode_name(p->mode),
		.ring_size = p->ring_size,
		.config_map_id = p->config_map_id,
		.events_map_id = p->events_map_id,
		.stats_map_id = p->stats_map_id,
		.prog_count = p->prog_count,
	};
	snprintf(out->attach_reason, sizeof(out->attach_reason), "%s", p->attach_reason);
	snprintf(out->pin_dir, sizeof(out->pin_dir), "%s", p->dir);
	for (size_t i = 0; i < p->prog_count && i < KERNEL_STATUS_PROGS; i++) {
		out->progs[i].name = p->progs[i].name;
		out->progs[i].prog_id = p->progs[i].prog_id;
		out->progs[i].link_id = p->progs[i].link_id;
	}
	pins_read_stats(p, out->stats);
	out->has_ring_used = ring_used(p, &out->ring_used) == 0;
	pins_stream(p, &out->last_seq, &out->stream_id);
	out->processes = pins_process_count(p);
	__u64 in = out->stats[GREETER_STAT_TABLE_ADDED] + out->stats[GREETER_STAT_TABLE_SEEDED];

	if (in > out->stats[GREETER_STAT_TABLE_REMOVED] + out->processes)
		out->processes_evicted = in - out->stats[GREETER_STAT_TABLE_REMOVED] - out->processes;
}

const char *pins_refusal(const struct pins *p)
{
	return p->refusal;
}

enum greeter_attach_mode pins_mode(const struct pins *p)
{
	return p->mode;
}

const char *pins_attach_reason(const struct pins *p)
{
	return p->attach_reason;
}

int pins_config_fd(const struct pins *p)
{
	return p->config_fd;
}

int pins_events_fd(const struct pins *p)
{
	return p->events_fd;
}

bool pins_messages_kept(const struct pins *p)
{
	return p->messages_from_pins;
}

bool pins_btf_from_cache(const struct pins *p)
{
	return p->btf_from_cache;
}

bool pins_btf_cache_failed(const struct pins *p)
{
	return p->btf_cache_failed;
}

int pins_old_ring(const struct pins *p, __u64 *read_pos, unsigned *abi)
{
	*read_pos = p->old_read_pos;
	*abi = p->old_events_abi;
	return p->old_events_fd;
}
