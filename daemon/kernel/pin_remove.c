// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Removing the pins (greeterd --remove-pins): links first, which detaches
 * the programs, then programs and maps; what greeter did not pin stays.
 */
#include "pins_internal.h"
#include "dir_lock.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

int pins_remove(const char *pin_dir)
{
	struct dirent *de;
	DIR *d;
	int lock, err, foreign = 0;

	if (access(pin_dir, F_OK) < 0) {
		log_info("nothing pinned: %s does not exist", pin_dir);
		return 0;
	}
	/* Not while a greeterd runs on these pins. */
	lock = dir_lock(pin_dir, "pin directory", "--pin-dir");
	if (lock < 0)
		return lock;
	err = pins_check_foreign(pin_dir, true);
	if (err)
		goto out;
	err = pin_stage_clear(pin_dir);
	if (err < 0)
		goto out;
	err = 0;
	/* Links first: removing the last reference to a link detaches its program. */
	for (size_t i = 0; i < PROG_COUNT && !err; i++)
		err = unpin_name(pin_dir, "link_", pin_prog_names[i]);
	for (size_t i = 0; i < PROG_COUNT && !err; i++)
		err = unpin_name(pin_dir, "prog_", pin_prog_names[i]);
	for (size_t i = 0; i < MAP_COUNT && !err; i++)
		err = unpin_name(pin_dir, "", pin_map_names[MAP_COUNT - 1 - i]);
	if (err)
		goto out;
	d = opendir(pin_dir);
	while (d && (de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		log_warning("left %s/%s in place: greeter did not create it", pin_dir, de->d_name);
		foreign++;
	}
	if (d)
		closedir(d);
	close(lock);
	if (!foreign && rmdir(pin_dir) < 0 && errno != ENOENT) {
		err = -errno;
		log_error("cannot remove %s: %s", pin_dir, strerror(-err));
		return err;
	}
	log_info("removed the pinned objects%s from %s", foreign ? "" : " and the directory",
		 pin_dir);
	return 0;
out:
	close(lock);
	return err;
}
