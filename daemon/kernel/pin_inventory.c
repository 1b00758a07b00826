// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * What is pinned: the names greeter pins under, what an earlier greeterd
 * left there, and objects under those names that greeter did not make.
 */
#include "pins_internal.h"
#include "log.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *const pin_map_names[MAP_COUNT] = {
#define PIN_MAP_NAME(id, name) #name,
	PIN_MAPS(PIN_MAP_NAME)
#undef PIN_MAP_NAME
};

const char *const pin_prog_names[PROG_COUNT] = {
#define PIN_PROG_NAME(name, modes) #name,
	PIN_PROGS(PIN_PROG_NAME)
#undef PIN_PROG_NAME
};

static const unsigned prog_modes[PROG_COUNT] = {
#define PIN_PROG_MODES(name, modes) modes,
	PIN_PROGS(PIN_PROG_MODES)
#undef PIN_PROG_MODES
};

#define PIN_PROG_KP(name, modes) +!!((modes)&PIN_KP)
#define PIN_PROG_TP(name, modes) +!!((modes)&PIN_TP)
_Static_assert(0 PIN_PROGS(PIN_PROG_KP) == MODE_PROG_COUNT, "a mode attaches MODE_PROG_COUNT");
_Static_assert(0 PIN_PROGS(PIN_PROG_TP) == MODE_PROG_COUNT, "a mode attaches MODE_PROG_COUNT");
#undef PIN_PROG_KP
#undef PIN_PROG_TP

void mode_progs(enum greeter_attach_mode mode, size_t out[MODE_PROG_COUNT])
{
	unsigned want = mode == GREETER_ATTACH_KPROBE ? PIN_KP : PIN_TP;
	size_t n = 0;

	for (size_t k = 0; k < PROG_COUNT; k++)
		if (prog_modes[k] & want)
			out[n++] = k;
}

void pin_path(char *out, size_t size, const char *dir, const char *prefix, const char *name)
{
	snprintf(out, size, "%s/%s%s", dir, prefix, name);
}

static int get_pinned(const char *dir, const char *prefix, const char *name)
{
	char path[PATH_MAX];

	pin_path(path, sizeof(path), dir, prefix, name);
	return bpf_obj_get(path);
}

__u32 pin_map_id(int fd)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) == 0 ? info.id : 0;
}

__u32 pin_prog_id(int fd)
{
	struct bpf_prog_info info = { 0 };
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) == 0 ? info.id : 0;
}

int pin_link_ids(int fd, __u32 *id, __u32 *prog)
{
	struct bpf_link_info info = { 0 };
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0)
		return -errno;
	*id = info.id;
	*prog = info.prog_id;
	return 0;
}

void old_pins_close(struct old_pins *o)
{
	for (size_t i = 0; i < MAP_COUNT; i++)
		close_fd(&o->map_fd[i]);
	for (size_t i = 0; i < PROG_COUNT; i++) {
		close_fd(&o->link_fd[i]);
		close_fd(&o->prog_fd[i]);
	}
}

/* What kind of BPF object fd is: "bpf-map", "bpf-prog", "bpf-link" or NULL. */
static const char *bpf_fd_kind(int fd, char *buf, size_t size)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, buf, size - 1);
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	/* Older kernels call links "bpf_link". */
	for (char *c = buf; *c; c++)
		if (*c == '_')
			*c = '-';
	return strncmp(buf, "anon-inode:", 11) == 0 ? buf + 11 : NULL;
}

/* The map types greeter has ever pinned under each name. */
static bool map_type_ours(size_t i, __u32 type, __u32 key_size)
{
	switch (i) {
	case MAP_CONFIG:
		return type == BPF_MAP_TYPE_HASH && key_size == 4;
	case MAP_EVENTS:
		return type == BPF_MAP_TYPE_RINGBUF;
	case MAP_STATS:
	case MAP_REPORTED:
		return type == BPF_MAP_TYPE_PERCPU_ARRAY;
	case MAP_PROCESSES:
		return type == BPF_MAP_TYPE_LRU_HASH && key_size == 4;
	case MAP_PENDING:
		return type == BPF_MAP_TYPE_LRU_HASH || type == BPF_MAP_TYPE_HASH ||
			type == BPF_MAP_TYPE_ARRAY;
	default:
		return type == BPF_MAP_TYPE_ARRAY;
	}
}

/*
 * Is what sits at dir/prefix+name something greeter pinned? Anything else
 * (another kind of object, a map of another type, a plain file) is foreign:
 * greeterd must neither use nor remove it.
 */
static bool pin_foreign(const char *dir, const char *prefix, const char *name, ssize_t map,
			char *what, size_t what_size)
{
	char path[PATH_MAX], kind_buf[64];
	const char *kind, *want = map >= 0 ? "bpf-map" : (*prefix == 'p' ? "bpf-prog" : "bpf-link");
	struct stat st;
	int fd;
	bool foreign = false;

	pin_path(path, sizeof(path), dir, prefix, name);
	if (lstat(path, &st) < 0)
		return false;
	fd = bpf_obj_get(path);
	if (fd < 0) {
		snprintf(what, what_size, "%s is not a BPF object", path);
		return true;
	}
	kind = bpf_fd_kind(fd, kind_buf, sizeof(kind_buf));
	if (!kind || strcmp(kind, want) != 0) {
		snprintf(what, what_size, "%s is a %s, not the %s greeter pins there", path,
			 kind ? kind : "unknown object", want);
		foreign = true;
	} else if (map >= 0) {
		struct bpf_map_info info = { 0 };
		__u32 len = sizeof(info);

		if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 &&
		    !map_type_ours((size_t)map, info.type, info.key_size)) {
			snprintf(what, what_size, "%s is a map of type %u that greeter never made",
				 path, info.type);
			foreign = true;
		}
	}
	close(fd);
	return foreign;
}

int pins_check_foreign(const char *dir, bool for_removal)
{
	char what[PATH_MAX + 128];
	int n = 0;

	for (size_t i = 0; i < MAP_COUNT; i++)
		if (pin_foreign(dir, "", pin_map_names[i], (ssize_t)i, what, sizeof(what))) {
			log_error("%s", what);
			n++;
		}
	for (size_t i = 0; i < PROG_COUNT; i++) {
		if (pin_foreign(dir, "prog_", pin_prog_names[i], -1, what, sizeof(what))) {
			log_error("%s", what);
			n++;
		}
		if (pin_foreign(dir, "link_", pin_prog_names[i], -1, what, sizeof(what))) {
			log_error("%s", what);
			n++;
		}
	}
	if (n && for_removal)
		log_error("removed nothing: greeterd does not remove objects it did not create; "
			  "move them away first");
	else if (n)
		log_error("greeterd does not use or replace objects it did not create: move them "
			  "away, or use another --pin-dir");
	return n ? -EEXIST : 0;
}

void old_pins_inspect(const char *dir, struct old_pins *o)
{
	memset(o, 0, sizeof(*o));
	for (size_t i = 0; i < MAP_COUNT; i++) {
		o->map_fd[i] = get_pinned(dir, "", pin_map_names[i]);
		if (o->map_fd[i] >= 0)
			o->any = true;
	}
	for (size_t i = 0; i < PROG_COUNT; i++) {
		o->link_fd[i] = get_pinned(dir, "link_", pin_prog_names[i]);
		o->prog_fd[i] = get_pinned(dir, "prog_", pin_prog_names[i]);
		if (o->link_fd[i] >= 0 || o->prog_fd[i] >= 0)
			o->any = true;
	}
	if (o->map_fd[MAP_META] >= 0) {
		struct bpf_map_info info = { 0 };
		__u32 len = sizeof(info), zero = 0;

		if (bpf_obj_get_info_by_fd(o->map_fd[MAP_META], &info, &len) == 0 &&
		    info.type == BPF_MAP_TYPE_ARRAY && info.key_size == 4 &&
		    info.value_size == sizeof(o->meta) &&
		    bpf_map_lookup_elem(o->map_fd[MAP_META], &zero, &o->meta) == 0)
			o->have_meta = true;
	}
}
