// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The life cycle of the kernel objects: open the pin directory, keep what
 * was pinned or load and attach a new set, stage it, and commit it once
 * the start has succeeded. The one file that includes the skeleton.
 */
#include "pins_internal.h"
#include "dir_lock.h"
#include "kernel_fs.h"
#include "kernel_probe.h"
#include "libbpf_log.h"
#include "log.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

/* Generated code, not written for -Wpedantic. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Woverlength-strings"
#include "greeter.skel.h"
#pragma GCC diagnostic pop

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

static void fill_ids_from_fds(struct pins *p)
{
	p->config_map_id = pin_map_id(p->config_fd);
	p->events_map_id = pin_map_id(p->events_fd);
	p->stats_map_id = pin_map_id(p->stats_fd);
}

/* The skeleton's maps and programs, in the order of the lists (pins_internal.h). */
static void skel_maps(struct greeter_bpf *skel, struct bpf_map *out[MAP_COUNT])
{
#define PIN_SKEL_MAP(id, name) out[MAP_##id] = skel->maps.name;
	PIN_MAPS(PIN_SKEL_MAP)
#undef PIN_SKEL_MAP
}

static void skel_progs(struct greeter_bpf *skel, struct bpf_program *out[PROG_COUNT])
{
	size_t k = 0;

#define PIN_SKEL_PROG(name, modes) out[k++] = skel->progs.name;
	PIN_PROGS(PIN_SKEL_PROG)
#undef PIN_SKEL_PROG
}

/* Attach each program of the mode; on failure, *failed is the program that failed. */
static int attach_all(struct greeter_bpf *skel, enum greeter_attach_mode mode,
		      struct bpf_link **links, struct bpf_program **failed)
{
	struct bpf_program *progs[PROG_COUNT];
	size_t in_mode[MODE_PROG_COUNT];

	skel_progs(skel, progs);
	mode_progs(mode, in_mode);
	for (size_t i = 0; i < MODE_PROG_COUNT; i++) {
		struct bpf_program *prog = progs[in_mode[i]];

		links[i] = bpf_program__attach(prog);
		if (!links[i]) {
			int err = -errno;

			for (size_t j = 0; j < i; j++) {
				bpf_link__destroy(links[j]);
				links[j] = NULL;
			}
			*failed = prog;
			return err;
		}
	}
	return 0;
}

static int open_and_load(struct greeter_bpf **skel_out, struct old_pins *o,
			 const struct pins_options *opt, enum greeter_attach_mode mode,
			 bool *reused, const char *btf_path)
{
	LIBBPF_OPTS(bpf_object_open_opts, open_opts, .btf_custom_path = btf_path);
	struct bpf_program *prog, *progs[PROG_COUNT];
	struct greeter_bpf *skel;
	struct bpf_map *maps[MAP_COUNT];
	size_t in_mode[MODE_PROG_COUNT];
	int err;

	skel = greeter_bpf__open_opts(&open_opts);
	if (!skel) {
		err = -errno;
		log_error("cannot open the BPF object: %s", strerror(-err));
		return err;
	}
	skel_maps(skel, maps);
	bpf_map__set_max_entries(skel->maps.events, opt->ring_size);

	for (size_t i = 0; i < MAP_COUNT; i++)
		reused[i] = pins_reuse_map(o, i, maps[i]);
	/* Only the mode's programs are loaded. */
	bpf_object__for_each_program (prog, skel->obj)
		bpf_program__set_autoload(prog, false);
	skel_progs(skel, progs);
	mode_progs(mode, in_mode);
	for (size_t i = 0; i < MODE_PROG_COUNT; i++)
		bpf_program__set_autoload(progs[in_mode[i]], true);
	err = greeter_bpf__load(skel);
	if (err) {
		greeter_bpf__destroy(skel);
		return err;
	}
	*skel_out = skel;
	return 0;
}

/* Why loading failed: the verifier's reason, else libbpf's first warning. */
static void log_load_failure(int err)
{
	const char *prog = NULL, *reason = libbpf_log_verifier_reason(&prog);
	const char *warning = libbpf_log_first_warning();

	if (reason)
		log_error("loading the BPF program %s failed (%s): the verifier says \"%s\"%s",
			  prog, strerror(-err), reason,
			  log_verbose() ? "" : " (--verbose shows its whole log)");
	else if (warning)
		log_error("loading the BPF programs failed (%s): libbpf says \"%s\"",
			  strerror(-err), warning);
	else
		log_error("loading the BPF programs failed: %s", strerror(-err));
}

static int load(struct pins *p, struct greeter_bpf **skel_out, struct old_pins *o,
		const struct pins_options *opt, enum greeter_attach_mode mode, bool *reused)
{
	const char *btf = p->btf_cache_failed ? NULL : opt->btf_path;
	int err;

	libbpf_log_reset();
	err = open_and_load(skel_out, o, opt, mode, reused, btf);
	if (err && btf) {
		/* A cache file that does not fit costs a slower start, never a failed one. */
		log_warning("loading with the cached kernel types %s failed (%s); using the "
			    "kernel's own, and the cache is written again",
			    btf, strerror(-err));
		p->btf_cache_failed = true;
		btf = NULL;
		libbpf_log_reset();
		err = open_and_load(skel_out, o, opt, mode, reused, NULL);
	}
	p->btf_from_cache = !err && btf;
	if (err) {
		log_load_failure(err);
		return err;
	}
	err = carry_sequence(bpf_map__fd((*skel_out)->maps.sequence), o, reused);
	/* Before anything is attached: the old programs report until the commit. */
	p->standby = old_links_attached(o);
	if (!err && p->standby)
		err = settings_standby(bpf_map__fd((*skel_out)->maps.settings), true);
	if (err) {
		log_error("cannot write the sequence or settings map: %s", strerror(-err));
		greeter_bpf__destroy(*skel_out);
		*skel_out = NULL;
	}
	return err;
}

/*
 * Pin the new set aside (pin_stage.h), to be put in place at commit: the
 * programs and links, the maps made anew, meta last. The links are attached
 * already, so the old ones can go at commit without a moment when no
 * program runs on exec.
 */
static int stage_pins(struct pins *p, struct greeter_bpf *skel, const struct old_pins *o,
		      const bool *reused, struct bpf_link **links, enum greeter_attach_mode mode)
{
	struct bpf_program *progs[PROG_COUNT];
	struct bpf_map *maps[MAP_COUNT];
	size_t in_mode[MODE_PROG_COUNT];
	bool attached[PROG_COUNT] = { 0 };
	char name[PIN_NAME_MAX];
	int err;

	skel_progs(skel, progs);
	skel_maps(skel, maps);
	mode_progs(mode, in_mode);
	for (size_t i = 0; i < MODE_PROG_COUNT; i++)
		attached[in_mode[i]] = true;
	err = pin_stage_begin(&p->stage, p->dir);
	if (err)
		return err;
	/* The other mode's programs, should the old set have been attached in it. */
	for (size_t i = 0; i < PROG_COUNT; i++) {
		if (attached[i])
			continue;
		snprintf(name, sizeof(name), "link_%s", pin_prog_names[i]);
		if (o->link_fd[i] >= 0 && (err = pin_stage_drop(&p->stage, name, o->link_fd[i])))
			return err;
		snprintf(name, sizeof(name), "prog_%s", pin_prog_names[i]);
		if (o->prog_fd[i] >= 0 && (err = pin_stage_drop(&p->stage, name, o->prog_fd[i])))
			return err;
	}
	for (size_t i = 0; i < MODE_PROG_COUNT; i++) {
		size_t k = in_mode[i];

		snprintf(name, sizeof(name), "prog_%s", pin_prog_names[k]);
		err = pin_stage_add(&p->stage, name, bpf_program__fd(progs[k]), o->prog_fd[k]);
		if (err)
			return err;
		snprintf(name, sizeof(name), "link_%s", pin_prog_names[k]);
		err = pin_stage_add(&p->stage, name, bpf_link__fd(links[i]), o->link_fd[k]);
		if (err)
			return err;
	}
	/* MAP_META is last of all: it marks the set complete. */
	for (size_t i = 0; i < MAP_COUNT; i++) {
		if (reused[i])
			continue;
		err = pin_stage_add(&p->stage, pin_map_names[i], bpf_map__fd(maps[i]),
				    o->map_fd[i]);
		if (err)
			return err;
	}
	return 0;
}

static int dup_fd(int fd)
{
	return fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

static enum greeter_attach_mode choose_mode(struct pins *p, const struct pins_options *opt)
{
	if (opt->attach != GREETER_ATTACH_AUTO) {
		snprintf(p->attach_reason, sizeof(p->attach_reason), "requested with --attach %s",
			 attach_mode_name(opt->attach));
		return opt->attach;
	}
	if (kernel_has_kprobes()) {
		snprintf(p->attach_reason, sizeof(p->attach_reason),
			 "auto: the kernel supports kprobes");
		return GREETER_ATTACH_KPROBE;
	}
	snprintf(p->attach_reason, sizeof(p->attach_reason),
		 "auto: the kernel has no kprobe support, using the syscall tracepoints");
	log_notice("the kernel has no kprobe support; attaching to the "
		   "syscalls:sys_enter_execve{,at} tracepoints instead");
	return GREETER_ATTACH_TRACEPOINT;
}

/* Load and attach the programs; in auto mode, kprobes that fail to attach fall back. */
static int load_and_attach(struct pins *p, struct greeter_bpf **skel_out, struct old_pins *o,
			   const struct pins_options *opt, enum greeter_attach_mode *mode,
			   bool *reused, struct bpf_link **links)
{
	struct bpf_program *failed = NULL;
	int err;

	err = load(p, skel_out, o, opt, *mode, reused);
	if (err)
		return err;
	err = attach_all(*skel_out, *mode, links, &failed);
	if (err && *mode == GREETER_ATTACH_KPROBE && opt->attach == GREETER_ATTACH_AUTO &&
	    bpf_program__type(failed) == BPF_PROG_TYPE_KPROBE) {
		log_notice("attaching the kprobe program %s failed (%s); falling back to the "
			   "syscall tracepoints",
			   bpf_program__name(failed), strerror(-err));
		snprintf(p->attach_reason, sizeof(p->attach_reason),
			 "auto: kprobe attach failed (%s), using the syscall tracepoints",
			 strerror(-err));
		greeter_bpf__destroy(*skel_out);
		*skel_out = NULL;
		*mode = GREETER_ATTACH_TRACEPOINT;
		err = load(p, skel_out, o, opt, *mode, reused);
		if (err)
			return err;
		err = attach_all(*skel_out, *mode, links, &failed);
	}
	if (err) {
		log_error("attaching the BPF program %s (%s) failed: %s", bpf_program__name(failed),
			  bpf_program__section_name(failed), strerror(-err));
		greeter_bpf__destroy(*skel_out);
		*skel_out = NULL;
	}
	return err;
}

/*
 * Refuse, before anything is loaded, a kernel that lacks what the programs
 * of the mode need. Only a start that loads asks: pins this build made show
 * that the kernel has it all.
 */
static int check_kernel(struct pins *p, enum greeter_attach_mode mode)
{
	struct kernel_lacks lacks;
	struct timespec t0, t1;
	struct utsname u;
	size_t size = 0;
	const void *elf = greeter_bpf__elf_bytes(&size);
	int r;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = kernel_probe(elf, size, mode == GREETER_ATTACH_KPROBE, &lacks);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	log_debug("probed the kernel's BPF features in %.2f ms",
		  (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	if (r < 0 && r != -EPERM)
		log_error("cannot probe the kernel's BPF features: %s", strerror(-r));
	if (r <= 0)
		return r;
	if (uname(&u) < 0)
		snprintf(u.release, sizeof(u.release), "(release unknown)");
	kernel_probe_refusal(&lacks, u.release, p->refusal, sizeof(p->refusal));
	log_error("%s", p->refusal);
	return -EOPNOTSUPP;
}

static int create(struct pins *p, struct old_pins *o, const struct pins_options *opt)
{
	struct bpf_link *links[MODE_PROG_COUNT] = { 0 };
	size_t in_mode[MODE_PROG_COUNT];
	struct greeter_bpf *skel = NULL;
	enum greeter_attach_mode mode = choose_mode(p, opt);
	bool reused[MAP_COUNT] = { 0 };
	struct greeter_meta meta = { 0 };
	struct timespec ts;
	__u32 zero = 0;
	int err;

	if (mode == GREETER_ATTACH_KPROBE && !kernel_has_kprobes()) {
		log_error("--attach kprobe: this kernel has no kprobe support "
			  "(CONFIG_KPROBES); use --attach tracepoint or auto");
		return -EOPNOTSUPP;
	}
	err = check_kernel(p, mode);
	if (err)
		return err;
	/* sched_process_exec is a tracepoint in either mode. */
	err = kernel_fs_prepare_tracefs();
	if (err)
		return err;
	err = load_and_attach(p, &skel, o, opt, &mode, reused, links);
	if (err)
		return err;
	if (!reused[MAP_PROCESSES])
		process_seed(bpf_map__fd(skel->maps.processes), bpf_map__fd(skel->maps.stats));

	err = carry_maps(p, bpf_map__fd(skel->maps.config), bpf_map__fd(skel->maps.settings), o,
			 opt, reused);
	if (!err && p->standby)
		err = settings_standby(bpf_map__fd(skel->maps.settings), true);
	if (err)
		goto out;
	meta.abi_version = GREETER_ABI_VERSION;
	meta.attach_mode = mode;
	meta.build_id = pins_build_id();
	clock_gettime(CLOCK_BOOTTIME, &ts);
	meta.created_boot_ns = (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
	snprintf(meta.attach_reason, sizeof(meta.attach_reason), "%s", p->attach_reason);
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.meta), &zero, &meta, BPF_ANY) < 0) {
		err = -errno;
		log_error("cannot write the meta map: %s", strerror(-err));
		goto out;
	}

	err = stage_pins(p, skel, o, reused, links, mode);
	if (err)
		goto out;

	/* After staging, which pins the old ring back should the commit fail. */
	carry_old_ring(p, o, reused);

	p->mode = mode;
	p->ring_size = bpf_map__max_entries(skel->maps.events);
	p->config_fd = dup_fd(bpf_map__fd(skel->maps.config));
	p->events_fd = dup_fd(bpf_map__fd(skel->maps.events));
	p->stats_fd = dup_fd(bpf_map__fd(skel->maps.stats));
	p->sequence_fd = dup_fd(bpf_map__fd(skel->maps.sequence));
	p->settings_fd = dup_fd(bpf_map__fd(skel->maps.settings));
	p->meta_fd = dup_fd(bpf_map__fd(skel->maps.meta));
	p->processes_fd = dup_fd(bpf_map__fd(skel->maps.processes));
	p->prog_count = MODE_PROG_COUNT;
	mode_progs(mode, in_mode);
	for (size_t i = 0; i < MODE_PROG_COUNT; i++) {
		__u32 lprog = 0;

		p->progs[i].name = pin_prog_names[in_mode[i]];
		pin_link_ids(bpf_link__fd(links[i]), &p->progs[i].link_id, &lprog);
		p->progs[i].prog_id = lprog;
	}
out:
	/* The staged pins hold the links (attached) and programs from here. */
	for (size_t i = 0; i < MODE_PROG_COUNT; i++)
		bpf_link__destroy(links[i]);
	greeter_bpf__destroy(skel);
	return err;
}

static void pins_init(struct pins *p)
{
	memset(p, 0, sizeof(*p));
	p->dir_fd = p->config_fd = p->events_fd = p->stats_fd = -1;
	p->sequence_fd = p->settings_fd = p->meta_fd = p->old_events_fd = -1;
	p->processes_fd = -1;
}

static void pins_close(struct pins *p)
{
	/* A start that failed: what it staged goes, the pin directory stays as it was. */
	pin_stage_end(&p->stage);
	close_fd(&p->config_fd);
	close_fd(&p->events_fd);
	close_fd(&p->stats_fd);
	close_fd(&p->sequence_fd);
	close_fd(&p->settings_fd);
	close_fd(&p->meta_fd);
	close_fd(&p->processes_fd);
	close_fd(&p->old_events_fd);
	if (p->dir_created && !p->committed)
		rmdir(p->dir);
	p->dir_created = false;
	close_fd(&p->dir_fd);
}

static int open_pins(struct pins *p, const struct pins_options *opt)
{
	struct old_pins o;
	int err;

	pins_init(p);
	snprintf(p->dir, sizeof(p->dir), "%s", opt->pin_dir);
	err = kernel_fs_prepare_pin_dir(p->dir, &p->dir_created);
	if (err)
		return err;
	p->dir_fd = dir_lock(p->dir, "pin directory", "--pin-dir");
	if (p->dir_fd < 0) {
		err = p->dir_fd;
		goto fail;
	}
	err = pins_check_foreign(p->dir, false);
	if (err)
		goto fail;
	err = pin_stage_clear(p->dir);
	if (err < 0)
		goto fail;
	if (err > 0)
		log_notice("removed the %s directory in %s, left by a greeterd stopped while it "
			   "started",
			   PIN_STAGE_DIR, p->dir);
	old_pins_inspect(p->dir, &o);
	if (o.any && pins_reusable(&o, opt)) {
		pins_adopt(p, &o, opt);
		err = 0;
		log_info("reusing the objects pinned in %s (%s mode)", p->dir,
			 attach_mode_name(p->mode));
	} else {
		if (o.any)
			log_notice("replacing the objects pinned in %s: %s", p->dir,
				   pins_replace_reason(&o, opt));
		err = create(p, &o, opt);
		p->outcome = o.any ? PINS_REPLACED : PINS_CREATED;
	}
	old_pins_close(&o);
	if (err)
		goto fail;
	fill_ids_from_fds(p);
	return 0;
fail:
	pins_close(p);
	return err;
}

int pins_commit(struct pins *p)
{
	int err;

	if (p->outcome == PINS_REUSED) {
		err = carry_settings(p->settings_fd, &p->settings);
		p->committed = !err;
		return err;
	}
	/*
	 * The new programs report from here, the old ones until the commit
	 * takes their links: an event of that moment reported by both is
	 * reported once (the reported map, the process table).
	 */
	if (p->standby) {
		err = settings_standby(p->settings_fd, false);
		if (err)
			return err;
	}
	err = pin_stage_commit(&p->stage);
	if (err) {
		if (p->standby)
			settings_standby(p->settings_fd, true);
		return err;
	}
	pin_stage_end(&p->stage);
	p->committed = true;
	log_info("%s and pinned in %s (%s mode)",
		 p->outcome == PINS_REPLACED ? "replaced the programs" : "loaded, attached", p->dir,
		 attach_mode_name(p->mode));
	return 0;
}

int pins_open(struct pins **out, const struct pins_options *opt)
{
	*out = malloc(sizeof(**out));
	if (!*out)
		return -ENOMEM;
	return open_pins(*out, opt);
}

void pins_free(struct pins *p)
{
	if (!p)
		return;
	pins_close(p);
	free(p);
}
