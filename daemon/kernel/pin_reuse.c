// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Whether what an earlier greeterd pinned is kept: the whole set when this
 * build would make the same (programs and links stay attached), else map by
 * map, where the new programs can share a map as it is.
 */
#include "pins_internal.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <stdio.h>

/* Every program of the pinned mode is pinned, and its link runs that program. */
static bool old_links_complete(const struct old_pins *o, enum greeter_attach_mode mode)
{
	size_t progs[MODE_PROG_COUNT];

	mode_progs(mode, progs);
	for (size_t i = 0; i < MODE_PROG_COUNT; i++) {
		size_t k = progs[i];
		__u32 lid = 0, lprog = 0;

		if (o->link_fd[k] < 0 || o->prog_fd[k] < 0)
			return false;
		if (pin_link_ids(o->link_fd[k], &lid, &lprog) < 0 ||
		    lprog != pin_prog_id(o->prog_fd[k]))
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

bool pins_reusable(const struct old_pins *o, const struct pins_options *opt)
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

const char *pins_replace_reason(const struct old_pins *o, const struct pins_options *opt)
{
	if (o->map_fd[MAP_META] < 0)
		return "an incomplete pin set, without the meta map that marks a complete one";
	if (!o->have_meta)
		return "its meta map cannot be read (another ABI)";
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

void pins_adopt(struct pins *p, struct old_pins *o, const struct pins_options *opt)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);
	size_t progs[MODE_PROG_COUNT];

	p->config_fd = o->map_fd[MAP_CONFIG];
	p->events_fd = o->map_fd[MAP_EVENTS];
	p->stats_fd = o->map_fd[MAP_STATS];
	p->sequence_fd = o->map_fd[MAP_SEQUENCE];
	p->settings_fd = o->map_fd[MAP_SETTINGS];
	p->meta_fd = o->map_fd[MAP_META];
	p->processes_fd = o->map_fd[MAP_PROCESSES];
	o->map_fd[MAP_CONFIG] = o->map_fd[MAP_EVENTS] = o->map_fd[MAP_STATS] = -1;
	o->map_fd[MAP_SEQUENCE] = o->map_fd[MAP_SETTINGS] = o->map_fd[MAP_META] = -1;
	o->map_fd[MAP_PROCESSES] = -1;
	if (bpf_obj_get_info_by_fd(p->events_fd, &info, &len) == 0)
		p->ring_size = info.max_entries;
	p->mode = o->meta.attach_mode;
	if (opt->attach != GREETER_ATTACH_AUTO)
		snprintf(p->attach_reason, sizeof(p->attach_reason), "requested with --attach %s",
			 attach_mode_name(opt->attach));
	else
		snprintf(p->attach_reason, sizeof(p->attach_reason), "%.*s",
			 (int)sizeof(o->meta.attach_reason), o->meta.attach_reason);
	p->prog_count = MODE_PROG_COUNT;
	mode_progs(p->mode, progs);
	for (size_t i = 0; i < MODE_PROG_COUNT; i++) {
		size_t k = progs[i];

		p->progs[i].name = pin_prog_names[k];
		p->progs[i].prog_id = pin_prog_id(o->prog_fd[k]);
		pin_link_ids(o->link_fd[k], &p->progs[i].link_id, &p->progs[i].prog_id);
	}
	p->outcome = PINS_REUSED;
	p->messages_from_pins = true;
	/* Written at commit: a start that fails leaves the pinned settings as they were. */
	p->settings = opt->settings;
}

bool pins_reuse_map(const struct old_pins *o, enum pin_map i, struct bpf_map *map)
{
	bool abi_same = o->have_meta && o->meta.abi_version == GREETER_ABI_VERSION;

	/* Written at every start: fresh maps, so a failed start leaves the old ones be. */
	if (i == MAP_SETTINGS || i == MAP_META)
		return false;
	/*
	 * Shared whatever the ABI (their layouts never change): while both
	 * builds' programs run, the reported map keeps an exec from being
	 * reported twice, the sequence map keeps both numbering on from one
	 * counter, so that no number is given twice, and the process table
	 * has each exit reported once, with its exec's id.
	 */
	return (abi_same || i == MAP_REPORTED || i == MAP_SEQUENCE || i == MAP_PROCESSES) &&
		map_matches(o->map_fd[i], map) && bpf_map__reuse_fd(map, o->map_fd[i]) == 0;
}
