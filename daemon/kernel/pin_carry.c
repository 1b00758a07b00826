// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * What goes over from the maps of a replaced set into the new ones, whatever
 * their layout: the messages, the sequence numbers and the stream id, where
 * the ring was read up to; and the replaced ring itself, while it holds
 * events to drain.
 */
#include "pins_internal.h"
#include "kernel.h"
#include "log.h"
#include "validate.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/*
 * Read the messages out of a config map of any earlier layout: the key is a
 * UID and the value a NUL-terminated string in a char array, whatever its size.
 */
static int read_old_messages(int fd, struct greeter_entries *out)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info), key, next;
	char value[4096], text[GREETER_MESSAGE_SIZE];
	void *prev = NULL;
	int n = 0;

	if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0)
		return -errno;
	if (info.key_size != 4 || info.value_size == 0 || info.value_size > sizeof(value)) {
		log_warning("pinned config map has key size %u and value size %u; cannot read "
			    "messages from it",
			    info.key_size, info.value_size);
		return -EPROTO;
	}
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		const char *why = NULL;
		size_t tlen;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, value) < 0)
			continue; /* deleted meanwhile */
		tlen = strnlen(value, info.value_size);
		if (greeter_validate_message(value, tlen, &why) < 0) {
			log_error("pinned message for uid %u cannot be carried over: %s", key, why);
			continue;
		}
		memcpy(text, value, tlen);
		text[tlen] = '\0';
		if (greeter_entries_add(out, key, text) < 0)
			return -ENOMEM;
		n++;
	}
	return n;
}

static int write_messages(int fd, const struct greeter_entries *entries)
{
	/* In batches: a start after a reboot with 16,384 messages is a few syscalls. */
	int err = config_map_write(fd, entries);

	if (err < 0)
		log_error("cannot store the messages in the config map: %s", strerror(-err));
	return err;
}

/* An old array map's value, as far as it goes: fields it lacks stay 0. */
static void read_old_value(int fd, void *out, size_t size)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info), zero = 0;
	__u64 value[64] = { 0 };

	memset(out, 0, size);
	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len) < 0 ||
	    info.type != BPF_MAP_TYPE_ARRAY || info.value_size < sizeof(__u64) ||
	    info.value_size > sizeof(value))
		return;
	if (bpf_map_lookup_elem(fd, &zero, value) < 0)
		return;
	memcpy(out, value, info.value_size < size ? info.value_size : size);
}

/* A stream id: random, never 0 (0 stands for none). */
static __u64 new_stream_id(void)
{
	__u64 id = 0;
	struct timespec ts;

	if (getrandom(&id, sizeof(id), GRND_NONBLOCK) != sizeof(id)) {
		clock_gettime(CLOCK_BOOTTIME, &ts);
		id = ((__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec) ^
			((__u64)getpid() << 40);
	}
	return id ? id : 1;
}

static int write_settings(int fd, const struct greeter_settings *settings)
{
	__u32 zero = 0;

	if (bpf_map_update_elem(fd, &zero, settings, BPF_ANY) < 0) {
		int err = -errno;

		log_error("cannot write settings map: %s", strerror(-err));
		return err;
	}
	return 0;
}

int settings_standby(int fd, bool on)
{
	struct greeter_settings st = { 0 };
	__u32 zero = 0;

	bpf_map_lookup_elem(fd, &zero, &st);
	if (on)
		st.flags |= GREETER_SETTING_STANDBY;
	else
		st.flags &= ~(__u32)GREETER_SETTING_STANDBY;
	return write_settings(fd, &st);
}

bool old_links_attached(const struct old_pins *o)
{
	for (size_t i = 0; i < PROG_COUNT; i++)
		if (o->link_fd[i] >= 0)
			return true;
	return false;
}

int carry_settings(int fd, const struct greeter_settings *settings)
{
	struct greeter_settings st = *settings, cur;
	__u32 zero = 0;

	st.read_pos = bpf_map_lookup_elem(fd, &zero, &cur) == 0 ? cur.read_pos : 0;
	return write_settings(fd, &st);
}

/*
 * A new sequence map, where the old one could not be shared (ABI 1's had
 * another layout and no stream id), goes on from its predecessor: written
 * before the programs are attached, as they number events from the first
 * exec on.
 */
int carry_sequence(int fd, const struct old_pins *o, const bool *reused)
{
	struct greeter_sequence seq;
	__u32 zero = 0;

	if (reused[MAP_SEQUENCE])
		return 0;
	read_old_value(o->map_fd[MAP_SEQUENCE], &seq, sizeof(seq));
	if (!seq.stream_id)
		seq.stream_id = new_stream_id();
	if (bpf_map_update_elem(fd, &zero, &seq, BPF_ANY) < 0)
		return -errno;
	if (o->map_fd[MAP_SEQUENCE] >= 0)
		log_notice("sequence numbers continue at %llu", (unsigned long long)seq.next);
	return 0;
}

/* The maps made anew, from their predecessors, or from the options (the state file). */
int carry_maps(struct pins *p, int config_fd, int settings_fd, const struct old_pins *o,
	       const struct pins_options *opt, const bool *reused)
{
	struct greeter_settings st = opt->settings, old;
	int err;

	if (!reused[MAP_CONFIG]) {
		struct greeter_entries carried = { 0 };
		const struct greeter_entries *src = opt->initial;

		if (o->map_fd[MAP_CONFIG] >= 0 &&
		    read_old_messages(o->map_fd[MAP_CONFIG], &carried) >= 0) {
			log_notice("carried %zu message(s) over from the pinned config map",
				   carried.count);
			src = &carried;
			p->messages_from_pins = true;
		}
		err = src ? write_messages(config_fd, src) : 0;
		greeter_entries_free(&carried);
		if (err)
			return err;
	} else {
		p->messages_from_pins = true;
	}
	/* A read position is one in the ring it was read from. */
	read_old_value(o->map_fd[MAP_SETTINGS], &old, sizeof(old));
	st.read_pos = reused[MAP_EVENTS] ? old.read_pos : 0;
	return write_settings(settings_fd, &st);
}

void carry_old_ring(struct pins *p, struct old_pins *o, const bool *reused)
{
	struct greeter_settings old;

	if (reused[MAP_EVENTS])
		return;
	/* Where it was read up to (ABI 1 kept no read position: it released all it read). */
	read_old_value(o->map_fd[MAP_SETTINGS], &old, sizeof(old));
	p->old_read_pos = old.read_pos;
	if (o->map_fd[MAP_EVENTS] < 0)
		return;
	/* A replaced ring buffer of an ABI with our event record still holds events. */
	if (o->have_meta && o->meta.abi_version >= GREETER_EVENT_ABI_MIN &&
	    o->meta.abi_version <= GREETER_ABI_VERSION) {
		p->old_events_fd = o->map_fd[MAP_EVENTS];
		p->old_events_abi = o->meta.abi_version;
		o->map_fd[MAP_EVENTS] = -1;
	} else {
		log_warning("events waiting in the old ring buffer cannot be decoded (%s) and "
			    "are dropped",
			    o->have_meta ? "another ABI version" : "no meta map says their ABI");
	}
}
