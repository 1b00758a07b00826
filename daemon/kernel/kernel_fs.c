// SPDX-License-Identifier: LGPL-2.1-or-later
#include "kernel_fs.h"
#include "log.h"

#include <errno.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#define BPFFS_ROOT "/sys/fs/bpf"

static bool is_fs(const char *path, long magic)
{
	struct statfs st;

	return statfs(path, &st) == 0 && (long)st.f_type == magic;
}

/* The closest existing ancestor of path (or path itself), for statfs. */
static void existing_ancestor(const char *path, char *out, size_t size)
{
	char *slash;

	snprintf(out, size, "%s", path);
	while (access(out, F_OK) != 0) {
		slash = strrchr(out, '/');
		if (!slash || slash == out) {
			snprintf(out, size, "/");
			return;
		}
		*slash = '\0';
	}
}

static bool below(const char *path, const char *root)
{
	size_t n = strlen(root);

	return strncmp(path, root, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

int kernel_fs_prepare_pin_dir(const char *pin_dir, bool *created)
{
	char anc[PATH_MAX];

	*created = false;
	if (pin_dir[0] != '/') {
		log_error("pin directory %s is not an absolute path", pin_dir);
		return -EINVAL;
	}
	existing_ancestor(pin_dir, anc, sizeof(anc));
	if (!is_fs(anc, BPF_FS_MAGIC)) {
		if (!below(pin_dir, BPFFS_ROOT)) {
			log_error("%s is not on a bpf filesystem; mount one there first, e.g.: "
				  "mount -t bpf bpf %s",
				  pin_dir, anc);
			return -ENOTDIR;
		}
		if (mount("bpf", BPFFS_ROOT, "bpf", 0, "mode=0700") < 0) {
			int err = -errno;

			log_error("no bpf filesystem on %s and mounting one failed (%s); run: "
				  "mount -t bpf bpf %s",
				  BPFFS_ROOT, strerror(-err), BPFFS_ROOT);
			return err;
		}
		log_notice("mounted a bpf filesystem on %s", BPFFS_ROOT);
	}
	if (mkdir(pin_dir, 0700) == 0) {
		*created = true;
	} else if (errno != EEXIST) {
		int err = -errno;

		log_error("cannot create pin directory %s: %s", pin_dir, strerror(-err));
		return err;
	}
	if (!is_fs(pin_dir, BPF_FS_MAGIC)) {
		log_error("%s is not on a bpf filesystem; run: mount -t bpf bpf %s", pin_dir,
			  BPFFS_ROOT);
		return -ENOTDIR;
	}
	return 0;
}

int kernel_fs_prepare_tracefs(void)
{
	/* libbpf looks in both places. */
	if (access("/sys/kernel/tracing/events", F_OK) == 0 ||
	    access("/sys/kernel/debug/tracing/events", F_OK) == 0)
		return 0;
	if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, "mode=0700") == 0) {
		log_notice("mounted tracefs on /sys/kernel/tracing");
		return 0;
	}
	log_error("tracefs is not mounted and mounting it failed (%s); run: "
		  "mount -t tracefs tracefs /sys/kernel/tracing",
		  strerror(errno));
	return -ENOENT;
}

bool kernel_has_kprobes(void)
{
	return access("/sys/bus/event_source/devices/kprobe/type", F_OK) == 0;
}
