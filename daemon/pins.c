// SPDX-License-Identifier: LGPL-2.1-or-later
#include "pins.h"
#include "kernel_fs.h"
#include "log.h"
#include "validate.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Generated code, not written for -Wpedantic. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Woverlength-strings"
#include "greeter.skel.h"
#pragma GCC diagnostic pop

enum map_index {
	MAP_CONFIG,
	MAP_EVENTS,
	MAP_STATS,
	MAP_SEQUENCE,
	MAP_SETTINGS,
	MAP_PENDING,
	MAP_META, /* last: written and pinned last, it marks a complete pin set */
	MAP_COUNT,
};

static const char *const map_names[MAP_COUNT] = {
	"config", "events", "stats", "sequence", "settings", "pending", "meta",
};

static const char *const tracepoint_progs[PINS_PROG_COUNT] = {
	"sched_exec", "tp_execve", "tp_execveat", "tp_execve_ret", "tp_execveat_ret",
};

static const char *const kprobe_progs[PINS_PROG_COUNT] = {
	"sched_exec", "kp_execve", "kp_execveat", "kp_execve_ret", "kp_execveat_ret",
};

/* Every program name either flavour pins, for inspection and removal. */
static const char *const all_progs[] = {
	"sched_exec", "tp_execve",   "tp_execveat",   "tp_execve_ret",	 "tp_execveat_ret",
	"kp_execve",  "kp_execveat", "kp_execve_ret", "kp_execveat_ret",
};
#define ALL_PROG_COUNT (sizeof(all_progs) / sizeof(all_progs[0]))

/* What an earlier greeterd left in the pin directory. */
struct old_pins {
	bool any;
	bool have_meta;
	struct greeter_meta meta;
	int map_fd[MAP_COUNT];
	int link_fd[ALL_PROG_COUNT];
	int prog_fd[ALL_PROG_COUNT];
};

const char *attach_mode_name(enum greeter_attach_mode mode)
{
	switch (mode) {
	case GREETER_ATTACH_KPROBE:
		return "kprobe";
	case GREETER_ATTACH_TRACEPOINT:
		return "tracepoint";
	default:
		return "auto";
	}
}

int attach_mode_parse(const char *s, enum greeter_attach_mode *mode)
{
	if (strcmp(s, "auto") == 0)
		*mode = GREETER_ATTACH_AUTO;
	else if (strcmp(s, "kprobe") == 0)
		*mode = GREETER_ATTACH_KPROBE;
	else if (strcmp(s, "tracepoint") == 0)
		*mode = GREETER_ATTACH_TRACEPOINT;
	else
		return -EINVAL;
	return 0;
}

const void *pins_object_elf(size_t *size)
{
	return greeter_bpf__elf_bytes(size);
}

__u64 pins_build_id(void)
{
	static __u64 hash; /* asked for several times at start: hashed once */
	size_t size = 0;
	const unsigned char *bytes;

	if (hash)
		return hash;
	bytes = greeter_bpf__elf_bytes(&size);
	hash = 0xcbf29ce484222325ULL; /* FNV-1a */
	for (size_t i = 0; i < size; i++) {
		hash ^= bytes[i];
		hash *= 0x100000001b3ULL;
	}
	return hash;
}

static const char *const *mode_progs(enum greeter_attach_mode mode)
{
	return mode == GREETER_ATTACH_KPROBE ? kprobe_progs : tracepoint_progs;
}

static void pin_path(char *out, size_t size, const char *dir, const char *prefix, const char *name)
{
	snprintf(out, size, "%s/%s%s", dir, prefix, name);
}

static int get_pinned(const char *dir, const char *prefix, const char *name)
{
	char path[PATH_MAX];

	pin_path(path, sizeof(path), dir, prefix, name);
	return bpf_obj_get(path);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static __u32 map_id(int fd)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) == 0 ? info.id : 0;
}

static __u32 prog_id(int fd)
{
	struct bpf_prog_info info = { 0 };
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) == 0 ? info.id : 0;
}

static int link_info(int fd, __u32 *id, __u32 *prog)
{
	struct bpf_link_info info = { 0 };
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0)
		return -errno;
	*id = info.id;
	*prog = info.prog_id;
	return 0;
}

static void old_pins_close(struct old_pins *o)
{
	for (size_t i = 0; i < MAP_COUNT; i++)
		close_fd(&o->map_fd[i]);
	for (size_t i = 0; i < ALL_PROG_COUNT; i++) {
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
		return type == BPF_MAP_TYPE_PERCPU_ARRAY;
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

/* Refuse to work in a pin directory where something foreign holds our names. */
static int check_no_foreign(const char *dir, bool for_removal)
{
	char what[PATH_MAX + 128];
	int n = 0;

	for (size_t i = 0; i < MAP_COUNT; i++)
		if (pin_foreign(dir, "", map_names[i], (ssize_t)i, what, sizeof(what))) {
			log_error("%s", what);
			n++;
		}
	for (size_t i = 0; i < ALL_PROG_COUNT; i++) {
		if (pin_foreign(dir, "prog_", all_progs[i], -1, what, sizeof(what))) {
			log_error("%s", what);
			n++;
		}
		if (pin_foreign(dir, "link_", all_progs[i], -1, what, sizeof(what))) {
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

static void old_pins_inspect(const char *dir, struct old_pins *o)
{
	memset(o, 0, sizeof(*o));
	for (size_t i = 0; i < MAP_COUNT; i++) {
		o->map_fd[i] = get_pinned(dir, "", map_names[i]);
		if (o->map_fd[i] >= 0)
			o->any = true;
	}
	for (size_t i = 0; i < ALL_PROG_COUNT; i++) {
		o->link_fd[i] = get_pinned(dir, "link_", all_progs[i]);
		o->prog_fd[i] = get_pinned(dir, "prog_", all_progs[i]);
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

static ssize_t prog_index(const char *name)
{
	for (size_t i = 0; i < ALL_PROG_COUNT; i++)
		if (strcmp(all_progs[i], name) == 0)
			return (ssize_t)i;
	return -1;
}

/* Every program of the pinned mode is pinned, and its link runs that program. */
static bool old_links_complete(const struct old_pins *o, enum greeter_attach_mode mode)
{
	const char *const *names = mode_progs(mode);

	for (size_t i = 0; i < PINS_PROG_COUNT; i++) {
		ssize_t k = prog_index(names[i]);
		__u32 lid = 0, lprog = 0;

		if (k < 0 || o->link_fd[k] < 0 || o->prog_fd[k] < 0)
			return false;
		if (link_info(o->link_fd[k], &lid, &lprog) < 0 || lprog != prog_id(o->prog_fd[k]))
			return false;
	}
	return true;
}

/* Whether an existing map has exactly the definition this build would create. */
static bool map_matches(int fd, const struct bpf_map *map)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);

	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len) < 0)
		return false;
	return info.type == (__u32)bpf_map__type(map) && info.key_size == bpf_map__key_size(map) &&
		info.value_size == bpf_map__value_size(map) &&
		info.max_entries == bpf_map__max_entries(map) &&
		info.map_flags == bpf_map__map_flags(map);
}

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
	for (size_t i = 0; i < entries->count; i++) {
		struct greeter_message msg = { 0 };

		snprintf(msg.text, sizeof(msg.text), "%s", entries->items[i].text);
		if (bpf_map_update_elem(fd, &entries->items[i].uid, &msg, BPF_ANY) < 0) {
			int err = -errno;

			log_error("cannot store the message for uid %u: %s", entries->items[i].uid,
				  strerror(-err));
			return err;
		}
	}
	return 0;
}

static __u64 read_old_sequence(int fd)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info), zero = 0;
	__u64 value[64] = { 0 };

	if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0 || info.type != BPF_MAP_TYPE_ARRAY ||
	    info.value_size < sizeof(__u64) || info.value_size > sizeof(value))
		return 0;
	if (bpf_map_lookup_elem(fd, &zero, value) < 0)
		return 0;
	return value[0];
}

/* libbpf hands its own formats through; the attribute says so to the compiler. */
__attribute__((format(printf, 2, 0))) static int libbpf_log(enum libbpf_print_level level,
							    const char *fmt, va_list args)
{
	char line[1024];
	size_t n;

	if (!log_verbose())
		return 0;
	vsnprintf(line, sizeof(line), fmt, args);
	n = strlen(line);
	if (n && line[n - 1] == '\n')
		line[n - 1] = '\0';
	log_debug("libbpf: %s", line);
	return 0;
}

static int lock_dir(struct pins *p)
{
	p->dir_fd = open(p->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (p->dir_fd < 0) {
		int err = -errno;

		log_error("cannot open pin directory %s: %s", p->dir, strerror(-err));
		return err;
	}
	if (flock(p->dir_fd, LOCK_EX | LOCK_NB) < 0) {
		int err = -errno;

		if (err == -EWOULDBLOCK)
			log_error("another greeterd is using %s; stop it first", p->dir);
		else
			log_error("cannot lock %s: %s", p->dir, strerror(-err));
		close_fd(&p->dir_fd);
		return err == -EWOULDBLOCK ? -EBUSY : err;
	}
	return 0;
}

static void fill_ids_from_fds(struct pins *p)
{
	p->config_map_id = map_id(p->config_fd);
	p->events_map_id = map_id(p->events_fd);
	p->stats_map_id = map_id(p->stats_fd);
}

static int write_settings(struct pins *p, const struct pins_options *o)
{
	__u32 zero = 0;

	if (bpf_map_update_elem(p->settings_fd, &zero, &o->settings, BPF_ANY) < 0) {
		int err = -errno;

		log_error("cannot write settings map: %s", strerror(-err));
		return err;
	}
	return 0;
}

/* Adopt everything pinned: programs and links stay attached as they are. */
static int adopt(struct pins *p, struct old_pins *o, const struct pins_options *opt)
{
	const char *const *names = mode_progs(o->meta.attach_mode);
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);

	p->config_fd = o->map_fd[MAP_CONFIG];
	p->events_fd = o->map_fd[MAP_EVENTS];
	p->stats_fd = o->map_fd[MAP_STATS];
	p->sequence_fd = o->map_fd[MAP_SEQUENCE];
	p->settings_fd = o->map_fd[MAP_SETTINGS];
	p->meta_fd = o->map_fd[MAP_META];
	o->map_fd[MAP_CONFIG] = o->map_fd[MAP_EVENTS] = o->map_fd[MAP_STATS] = -1;
	o->map_fd[MAP_SEQUENCE] = o->map_fd[MAP_SETTINGS] = o->map_fd[MAP_META] = -1;
	if (bpf_obj_get_info_by_fd(p->events_fd, &info, &len) == 0)
		p->ring_size = info.max_entries;
	p->mode = o->meta.attach_mode;
	if (opt->attach != GREETER_ATTACH_AUTO)
		snprintf(p->attach_reason, sizeof(p->attach_reason), "requested with --attach %s",
			 attach_mode_name(opt->attach));
	else
		snprintf(p->attach_reason, sizeof(p->attach_reason), "%.*s",
			 (int)sizeof(o->meta.attach_reason), o->meta.attach_reason);
	p->prog_count = PINS_PROG_COUNT;
	for (size_t i = 0; i < PINS_PROG_COUNT; i++) {
		ssize_t k = prog_index(names[i]);

		p->progs[i].name = names[i];
		p->progs[i].prog_id = prog_id(o->prog_fd[k]);
		link_info(o->link_fd[k], &p->progs[i].link_id, &p->progs[i].prog_id);
	}
	p->outcome = PINS_REUSED;
	p->messages_from_pins = true;
	fill_ids_from_fds(p);
	return write_settings(p, opt);
}

static bool old_compatible(const struct old_pins *o, const struct pins_options *opt)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);

	if (!o->have_meta || o->meta.abi_version != GREETER_ABI_VERSION ||
	    o->meta.build_id != pins_build_id())
		return false;
	if (o->meta.attach_mode != GREETER_ATTACH_KPROBE &&
	    o->meta.attach_mode != GREETER_ATTACH_TRACEPOINT)
		return false;
	if (opt->attach != GREETER_ATTACH_AUTO && opt->attach != o->meta.attach_mode)
		return false;
	for (size_t i = 0; i < MAP_COUNT; i++)
		if (o->map_fd[i] < 0)
			return false;
	if (bpf_obj_get_info_by_fd(o->map_fd[MAP_EVENTS], &info, &len) < 0 ||
	    info.max_entries != opt->ring_size)
		return false;
	return old_links_complete(o, o->meta.attach_mode);
}

/* Why the pinned set is being replaced, for the log. */
static const char *replace_reason(const struct old_pins *o, const struct pins_options *opt)
{
	if (!o->have_meta)
		return "no readable ABI metadata (an incomplete or foreign pin set)";
	if (o->meta.abi_version != GREETER_ABI_VERSION)
		return "a different ABI version";
	if (o->meta.build_id != pins_build_id())
		return "a different build of the BPF program";
	if (opt->attach != GREETER_ATTACH_AUTO && opt->attach != o->meta.attach_mode)
		return "a different attach mode was requested";
	for (size_t i = 0; i < MAP_COUNT; i++)
		if (o->map_fd[i] < 0)
			return "a map is missing";
	if (!old_links_complete(o, o->meta.attach_mode))
		return "a program or link is missing";
	return "a different ring buffer size was requested";
}

static int attach_all(struct greeter_bpf *skel, enum greeter_attach_mode mode,
		      struct bpf_link **links)
{
	const char *const *names = mode_progs(mode);

	for (size_t i = 0; i < PINS_PROG_COUNT; i++) {
		struct bpf_program *prog = bpf_object__find_program_by_name(skel->obj, names[i]);

		links[i] = prog ? bpf_program__attach(prog) : NULL;
		if (!links[i]) {
			int err = prog ? -errno : -ENOENT;

			for (size_t j = 0; j < i; j++)
				bpf_link__destroy(links[j]);
			log_debug("attaching %s failed: %s", names[i], strerror(-err));
			return err;
		}
	}
	return 0;
}

static int open_and_load(struct greeter_bpf **skel_out, struct old_pins *o,
			 const struct pins_options *opt, enum greeter_attach_mode mode, bool *reused,
			 const char *btf_path)
{
	LIBBPF_OPTS(bpf_object_open_opts, open_opts, .btf_custom_path = btf_path);
	bool abi_same = o->have_meta && o->meta.abi_version == GREETER_ABI_VERSION;
	const char *const *names = mode_progs(mode);
	struct bpf_program *prog;
	struct greeter_bpf *skel;
	struct bpf_map *maps[MAP_COUNT];
	int err;

	skel = greeter_bpf__open_opts(&open_opts);
	if (!skel) {
		err = -errno;
		log_error("cannot open the BPF object: %s", strerror(-err));
		return err;
	}
	maps[MAP_CONFIG] = skel->maps.config;
	maps[MAP_EVENTS] = skel->maps.events;
	maps[MAP_STATS] = skel->maps.stats;
	maps[MAP_SEQUENCE] = skel->maps.sequence;
	maps[MAP_SETTINGS] = skel->maps.settings;
	maps[MAP_PENDING] = skel->maps.pending;
	maps[MAP_META] = skel->maps.meta;
	bpf_map__set_max_entries(skel->maps.events, opt->ring_size);

	for (size_t i = 0; i < MAP_COUNT; i++) {
		reused[i] = abi_same && map_matches(o->map_fd[i], maps[i]) &&
			bpf_map__reuse_fd(maps[i], o->map_fd[i]) == 0;
	}
	bpf_object__for_each_program (prog, skel->obj) {
		bool wanted = false;

		for (size_t i = 0; i < PINS_PROG_COUNT; i++)
			wanted |= strcmp(bpf_program__name(prog), names[i]) == 0;
		bpf_program__set_autoload(prog, wanted);
	}
	err = greeter_bpf__load(skel);
	if (err) {
		greeter_bpf__destroy(skel);
		return err;
	}
	*skel_out = skel;
	return 0;
}

static int load_and_attach(struct pins *p, struct greeter_bpf **skel_out, struct old_pins *o,
			   const struct pins_options *opt, enum greeter_attach_mode mode,
			   bool *reused, struct bpf_link **links)
{
	const char *btf = p->btf_cache_failed ? NULL : opt->btf_path;
	struct greeter_bpf *skel = NULL;
	int err;

	err = open_and_load(&skel, o, opt, mode, reused, btf);
	if (err && btf) {
		/* A cache file that does not fit costs a slower start, never a failed one. */
		log_warning("loading with the cached kernel types %s failed (%s); using the "
			    "kernel's own, and the cache is written again",
			    btf, strerror(-err));
		p->btf_cache_failed = true;
		btf = NULL;
		err = open_and_load(&skel, o, opt, mode, reused, NULL);
	}
	p->btf_from_cache = !err && btf;
	if (err) {
		log_error("loading the BPF programs failed: %s%s", strerror(-err),
			  log_verbose() ? "" : " (run with --verbose for the verifier's log)");
		return err;
	}
	err = attach_all(skel, mode, links);
	if (err) {
		greeter_bpf__destroy(skel);
		return err;
	}
	*skel_out = skel;
	return 0;
}

/* Seed the maps that were created fresh, from their predecessors or the state file. */
static int seed_maps(struct pins *p, struct greeter_bpf *skel, struct old_pins *o,
		     const struct pins_options *opt, const bool *reused)
{
	__u32 zero = 0;
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
		err = src ? write_messages(bpf_map__fd(skel->maps.config), src) : 0;
		greeter_entries_free(&carried);
		if (err)
			return err;
	} else {
		p->messages_from_pins = true;
	}
	if (!reused[MAP_SEQUENCE] && o->map_fd[MAP_SEQUENCE] >= 0) {
		struct greeter_sequence seq = { .next = read_old_sequence(
							o->map_fd[MAP_SEQUENCE]) };

		if (bpf_map_update_elem(bpf_map__fd(skel->maps.sequence), &zero, &seq, BPF_ANY) < 0)
			return -errno;
		log_notice("sequence numbers continue at %llu", (unsigned long long)seq.next);
	}
	return 0;
}

static int unpin_name(const char *dir, const char *prefix, const char *name)
{
	char path[PATH_MAX];

	pin_path(path, sizeof(path), dir, prefix, name);
	if (unlink(path) < 0 && errno != ENOENT) {
		int err = -errno;

		log_error("cannot remove %s: %s", path, strerror(-err));
		return err;
	}
	return 0;
}

static int pin_fd(int fd, const char *dir, const char *prefix, const char *name)
{
	char path[PATH_MAX];

	pin_path(path, sizeof(path), dir, prefix, name);
	if (bpf_obj_pin(fd, path) < 0) {
		int err = -errno;

		log_error("cannot pin %s: %s", path, strerror(-err));
		return err;
	}
	return 0;
}

/*
 * Swap the pin set: the new links are already attached, so unpinning and
 * closing the old ones leaves no moment without a program on exec.
 */
static int swap_pins(struct pins *p, struct greeter_bpf *skel, struct old_pins *o,
		     const bool *reused, struct bpf_link **links, enum greeter_attach_mode mode)
{
	const char *const *names = mode_progs(mode);
	struct bpf_map *maps[MAP_COUNT] = {
		skel->maps.config,   skel->maps.events,	 skel->maps.stats, skel->maps.sequence,
		skel->maps.settings, skel->maps.pending, skel->maps.meta,
	};
	int err;

	if (!reused[MAP_META] && (err = unpin_name(p->dir, "", map_names[MAP_META])))
		return err;
	for (size_t i = 0; i < ALL_PROG_COUNT; i++) {
		if ((err = unpin_name(p->dir, "link_", all_progs[i])) ||
		    (err = unpin_name(p->dir, "prog_", all_progs[i])))
			return err;
		close_fd(&o->link_fd[i]);
		close_fd(&o->prog_fd[i]);
	}
	for (size_t i = 0; i < MAP_COUNT - 1; i++) {
		if (reused[i])
			continue;
		if ((err = unpin_name(p->dir, "", map_names[i])) ||
		    (err = pin_fd(bpf_map__fd(maps[i]), p->dir, "", map_names[i])))
			return err;
	}
	for (size_t i = 0; i < PINS_PROG_COUNT; i++) {
		struct bpf_program *prog = bpf_object__find_program_by_name(skel->obj, names[i]);

		if ((err = pin_fd(bpf_program__fd(prog), p->dir, "prog_", names[i])) ||
		    (err = pin_fd(bpf_link__fd(links[i]), p->dir, "link_", names[i])))
			return err;
	}
	if (!reused[MAP_META])
		return pin_fd(bpf_map__fd(skel->maps.meta), p->dir, "", map_names[MAP_META]);
	return 0;
}

static int dup_fd(int fd)
{
	return fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

static int create(struct pins *p, struct old_pins *o, const struct pins_options *opt)
{
	struct bpf_link *links[PINS_PROG_COUNT] = { 0 };
	struct greeter_bpf *skel = NULL;
	enum greeter_attach_mode mode = opt->attach;
	bool reused[MAP_COUNT] = { 0 };
	struct greeter_meta meta = { 0 };
	__u32 zero = 0;
	int err;

	if (mode == GREETER_ATTACH_AUTO) {
		if (kernel_has_kprobes()) {
			mode = GREETER_ATTACH_KPROBE;
			snprintf(p->attach_reason, sizeof(p->attach_reason),
				 "auto: the kernel supports kprobes");
		} else {
			mode = GREETER_ATTACH_TRACEPOINT;
			snprintf(
				p->attach_reason, sizeof(p->attach_reason),
				"auto: the kernel has no kprobe support, using the syscall tracepoints");
			log_notice("the kernel has no kprobe support; attaching to the "
				   "syscalls:sys_enter_execve{,at} tracepoints instead");
		}
	} else {
		snprintf(p->attach_reason, sizeof(p->attach_reason), "requested with --attach %s",
			 attach_mode_name(mode));
	}
	if (mode == GREETER_ATTACH_KPROBE && !kernel_has_kprobes()) {
		log_error("--attach kprobe: this kernel has no kprobe support "
			  "(CONFIG_KPROBES); use --attach tracepoint or auto");
		return -EOPNOTSUPP;
	}
	/* sched_process_exec is a tracepoint in either mode. */
	err = kernel_fs_prepare_tracefs();
	if (err)
		return err;

	err = load_and_attach(p, &skel, o, opt, mode, reused, links);
	if (err && mode == GREETER_ATTACH_KPROBE && opt->attach == GREETER_ATTACH_AUTO) {
		log_notice("attaching kprobes failed (%s); falling back to the syscall tracepoints",
			   strerror(-err));
		snprintf(p->attach_reason, sizeof(p->attach_reason),
			 "auto: kprobe attach failed (%s), using the syscall tracepoints",
			 strerror(-err));
		mode = GREETER_ATTACH_TRACEPOINT;
		err = load_and_attach(p, &skel, o, opt, mode, reused, links);
	}
	if (err) {
		if (mode == GREETER_ATTACH_KPROBE || opt->attach != GREETER_ATTACH_AUTO)
			log_error("attaching in %s mode failed: %s", attach_mode_name(mode),
				  strerror(-err));
		return err;
	}

	err = seed_maps(p, skel, o, opt, reused);
	if (err)
		goto out;
	meta.abi_version = GREETER_ABI_VERSION;
	meta.attach_mode = mode;
	meta.build_id = pins_build_id();
	{
		struct timespec ts;

		clock_gettime(CLOCK_BOOTTIME, &ts);
		meta.created_boot_ns = (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
	}
	snprintf(meta.attach_reason, sizeof(meta.attach_reason), "%s", p->attach_reason);
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.meta), &zero, &meta, BPF_ANY) < 0) {
		err = -errno;
		goto out;
	}

	/* A replaced ring buffer of this ABI still holds events to deliver. */
	if (!reused[MAP_EVENTS] && o->map_fd[MAP_EVENTS] >= 0 && o->have_meta &&
	    o->meta.abi_version == GREETER_ABI_VERSION) {
		p->old_events_fd = o->map_fd[MAP_EVENTS];
		o->map_fd[MAP_EVENTS] = -1;
	} else if (!reused[MAP_EVENTS] && o->map_fd[MAP_EVENTS] >= 0) {
		log_warning("events waiting in the old ring buffer (ABI version %u) cannot be "
			    "decoded and are dropped",
			    o->meta.abi_version);
	}

	err = swap_pins(p, skel, o, reused, links, mode);
	if (err)
		goto out;

	p->mode = mode;
	p->ring_size = bpf_map__max_entries(skel->maps.events);
	p->config_fd = dup_fd(bpf_map__fd(skel->maps.config));
	p->events_fd = dup_fd(bpf_map__fd(skel->maps.events));
	p->stats_fd = dup_fd(bpf_map__fd(skel->maps.stats));
	p->sequence_fd = dup_fd(bpf_map__fd(skel->maps.sequence));
	p->settings_fd = dup_fd(bpf_map__fd(skel->maps.settings));
	p->meta_fd = dup_fd(bpf_map__fd(skel->maps.meta));
	p->prog_count = PINS_PROG_COUNT;
	for (size_t i = 0; i < PINS_PROG_COUNT; i++) {
		__u32 lprog = 0;

		p->progs[i].name = mode_progs(mode)[i];
		link_info(bpf_link__fd(links[i]), &p->progs[i].link_id, &lprog);
		p->progs[i].prog_id = lprog;
	}
	fill_ids_from_fds(p);
	err = write_settings(p, opt);
out:
	/* Pinned links stay attached when their fds close. */
	for (size_t i = 0; i < PINS_PROG_COUNT; i++)
		bpf_link__destroy(links[i]);
	greeter_bpf__destroy(skel);
	return err;
}

static void pins_init(struct pins *p)
{
	memset(p, 0, sizeof(*p));
	p->dir_fd = p->config_fd = p->events_fd = p->stats_fd = -1;
	p->sequence_fd = p->settings_fd = p->meta_fd = p->old_events_fd = -1;
}

int pins_open(struct pins *p, const struct pins_options *opt)
{
	struct old_pins o;
	int err;

	pins_init(p);
	libbpf_set_print(libbpf_log);
	snprintf(p->dir, sizeof(p->dir), "%s", opt->pin_dir);
	err = kernel_fs_prepare_pin_dir(p->dir);
	if (err)
		return err;
	err = lock_dir(p);
	if (err)
		return err;

	err = check_no_foreign(p->dir, false);
	if (err) {
		pins_close(p);
		return err;
	}
	old_pins_inspect(p->dir, &o);
	if (o.any && old_compatible(&o, opt)) {
		err = adopt(p, &o, opt);
		log_info("reusing the objects pinned in %s (%s mode)", p->dir,
			 attach_mode_name(p->mode));
	} else {
		if (o.any)
			log_notice("replacing the objects pinned in %s: %s", p->dir,
				   replace_reason(&o, opt));
		err = create(p, &o, opt);
		p->outcome = o.any ? PINS_REPLACED : PINS_CREATED;
		if (!err)
			log_info("%s and pinned in %s (%s mode)",
				 o.any ? "replaced the programs" : "loaded, attached", p->dir,
				 attach_mode_name(p->mode));
	}
	old_pins_close(&o);
	if (err)
		pins_close(p);
	return err;
}

void pins_close(struct pins *p)
{
	close_fd(&p->config_fd);
	close_fd(&p->events_fd);
	close_fd(&p->stats_fd);
	close_fd(&p->sequence_fd);
	close_fd(&p->settings_fd);
	close_fd(&p->meta_fd);
	close_fd(&p->old_events_fd);
	close_fd(&p->dir_fd);
}

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

int pins_read_last_seq(const struct pins *p, __u64 *next)
{
	struct greeter_sequence seq;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(p->sequence_fd, &zero, &seq) < 0)
		return -errno;
	*next = seq.next;
	return 0;
}

int pins_remove(const char *pin_dir)
{
	struct pins p;
	struct dirent *de;
	DIR *d;
	int err = 0, foreign = 0;

	pins_init(&p);
	snprintf(p.dir, sizeof(p.dir), "%s", pin_dir);
	if (access(pin_dir, F_OK) < 0) {
		log_info("nothing pinned: %s does not exist", pin_dir);
		return 0;
	}
	err = lock_dir(&p);
	if (err)
		return err;
	err = check_no_foreign(pin_dir, true);
	if (err) {
		pins_close(&p);
		return err;
	}
	/* Links first: removing the last reference to a link detaches its program. */
	for (size_t i = 0; i < ALL_PROG_COUNT && !err; i++)
		err = unpin_name(pin_dir, "link_", all_progs[i]);
	for (size_t i = 0; i < ALL_PROG_COUNT && !err; i++)
		err = unpin_name(pin_dir, "prog_", all_progs[i]);
	for (size_t i = 0; i < MAP_COUNT && !err; i++)
		err = unpin_name(pin_dir, "", map_names[MAP_COUNT - 1 - i]);
	if (err) {
		pins_close(&p);
		return err;
	}
	d = opendir(pin_dir);
	while (d && (de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		log_warning("left %s/%s in place: greeter did not create it", pin_dir, de->d_name);
		foreign++;
	}
	if (d)
		closedir(d);
	pins_close(&p);
	if (!foreign && rmdir(pin_dir) < 0 && errno != ENOENT) {
		err = -errno;
		log_error("cannot remove %s: %s", pin_dir, strerror(-err));
		return err;
	}
	log_info("removed the pinned objects%s from %s", foreign ? "" : " and the directory",
		 pin_dir);
	return 0;
}
