// SPDX-License-Identifier: LGPL-2.1-or-later
#include "ring_reader.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

struct ring_reader {
	unsigned long *consumer_pos; /* page 0, the one page we may write */
	const unsigned long *producer_pos; /* page 1 */
	const unsigned char *data; /* the data pages, mapped twice in a row */
	size_t page_size;
	uint64_t mask;
	uint64_t read_pos; /* read, not yet committed */
};

int ring_reader_open(struct ring_reader **out, int map_fd)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);
	struct ring_reader *r;
	void *p;

	if (bpf_obj_get_info_by_fd(map_fd, &info, &len) < 0)
		return -errno;
	if (info.type != BPF_MAP_TYPE_RINGBUF || info.max_entries == 0 ||
	    (info.max_entries & (info.max_entries - 1)))
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->page_size = (size_t)sysconf(_SC_PAGESIZE);
	r->mask = info.max_entries - 1;

	p = mmap(NULL, r->page_size, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
	if (p == MAP_FAILED)
		goto fail;
	r->consumer_pos = p;
	/* A record that wraps reads on into the second mapping of the data. */
	p = mmap(NULL, r->page_size + 2 * (size_t)info.max_entries, PROT_READ, MAP_SHARED, map_fd,
		 (off_t)r->page_size);
	if (p == MAP_FAILED)
		goto fail;
	r->producer_pos = p;
	r->data = (const unsigned char *)p + r->page_size;
	r->read_pos = __atomic_load_n(r->consumer_pos, __ATOMIC_ACQUIRE);
	*out = r;
	return 0;
fail:
	{
		int err = -errno;

		ring_reader_close(r);
		return err;
	}
}

void ring_reader_close(struct ring_reader *r)
{
	if (!r)
		return;
	if (r->consumer_pos)
		munmap(r->consumer_pos, r->page_size);
	if (r->producer_pos)
		munmap((void *)r->producer_pos, r->page_size + 2 * (r->mask + 1));
	free(r);
}

size_t ring_reader_read(struct ring_reader *r, ring_record_fn fn, void *ctx, size_t max)
{
	size_t taken = 0;

	while (taken < max) {
		uint64_t prod = __atomic_load_n(r->producer_pos, __ATOMIC_ACQUIRE);
		const unsigned char *rec;
		__u32 len;

		if (r->read_pos >= prod)
			break;
		rec = r->data + (r->read_pos & r->mask);
		len = __atomic_load_n((const __u32 *)rec, __ATOMIC_ACQUIRE);
		if (len & BPF_RINGBUF_BUSY_BIT)
			break; /* reserved, not yet submitted: the rest waits behind it */
		if (!(len & BPF_RINGBUF_DISCARD_BIT)) {
			size_t size = len & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);

			/* A length past the ring is not the kernel's: stop reading. */
			if (size > r->mask + 1 - BPF_RINGBUF_HDR_SZ)
				break;
			if (fn(ctx, rec + BPF_RINGBUF_HDR_SZ, size) < 0)
				break;
			taken++;
		}
		len &= ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
		r->read_pos += ((uint64_t)len + BPF_RINGBUF_HDR_SZ + 7) & ~7ULL;
	}
	return taken;
}

uint64_t ring_reader_pos(const struct ring_reader *r)
{
	return r->read_pos;
}

uint64_t ring_reader_produced(const struct ring_reader *r)
{
	return __atomic_load_n(r->producer_pos, __ATOMIC_ACQUIRE);
}

bool ring_reader_caught_up(const struct ring_reader *r)
{
	return r->read_pos >= __atomic_load_n(r->producer_pos, __ATOMIC_ACQUIRE);
}

void ring_reader_commit(struct ring_reader *r, uint64_t pos)
{
	uint64_t cons = __atomic_load_n(r->consumer_pos, __ATOMIC_RELAXED);

	if (pos > r->read_pos)
		pos = r->read_pos;
	/* The consumer position never moves back. */
	if (pos > cons)
		__atomic_store_n(r->consumer_pos, pos, __ATOMIC_RELEASE);
}

uint64_t ring_reader_size(const struct ring_reader *r)
{
	return r->mask + 1;
}

/* Up to where the kernel may reuse the ring: what was released. */
static uint64_t ring_reader_released(const struct ring_reader *r)
{
	return __atomic_load_n(r->consumer_pos, __ATOMIC_ACQUIRE);
}

int ring_reader_record(const struct ring_reader *r, uint64_t pos, const void **data, size_t *size)
{
	const unsigned char *rec;
	__u32 len;

	/* The record at read_pos is the one being read, when asked from fn. */
	if (pos < ring_reader_released(r) || pos > r->read_pos || (pos & 7))
		return -ENOENT;
	rec = r->data + (pos & r->mask);
	len = __atomic_load_n((const __u32 *)rec, __ATOMIC_ACQUIRE);
	if (len & (BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT))
		return -ENOENT;
	if (len > r->mask + 1 - BPF_RINGBUF_HDR_SZ)
		return -ENOENT;
	*data = rec + BPF_RINGBUF_HDR_SZ;
	*size = len;
	return 0;
}
