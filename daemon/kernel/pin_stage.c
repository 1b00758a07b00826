// SPDX-License-Identifier: LGPL-2.1-or-later
#include "pin_stage.h"
#include "log.h"

#include <bpf/bpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int join(char *out, size_t size, const char *dir, const char *name)
{
	int n = snprintf(out, size, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int pin_stage_clear(const char *dir)
{
	char stage[PATH_MAX];
	struct dirent *de;
	struct stat st;
	int err = 0;
	DIR *d;

	if (join(stage, sizeof(stage), dir, PIN_STAGE_DIR) < 0 || lstat(stage, &st) < 0)
		return 0;
	if (!S_ISDIR(st.st_mode)) {
		log_error("%s is not a directory greeterd made; move it away", stage);
		return -EEXIST;
	}
	d = opendir(stage);
	if (!d) {
		err = -errno;
		log_error("cannot open %s: %s", stage, strerror(-err));
		return err;
	}
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT) {
			err = -errno;
			log_error("cannot remove %s/%s: %s", stage, de->d_name, strerror(-err));
			break;
		}
	}
	closedir(d);
	if (!err && rmdir(stage) < 0 && errno != ENOENT) {
		err = -errno;
		log_error("cannot remove %s: %s", stage, strerror(-err));
	}
	return err ? err : 1;
}

int pin_stage_begin(struct pin_stage *s, const char *dir)
{
	int err;

	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	if (join(s->stage, sizeof(s->stage), dir, PIN_STAGE_DIR) < 0) {
		log_error("the pin directory's path is too long: %s", dir);
		return -ENAMETOOLONG;
	}
	if (mkdir(s->stage, 0700) < 0) {
		err = -errno;
		log_error("cannot create %s: %s", s->stage, strerror(-err));
		return err;
	}
	s->active = true;
	return 0;
}

static int new_item(struct pin_stage *s, const char *name, int old_fd, bool staged)
{
	struct pin_stage_item *it = &s->items[s->count];

	if (s->count == PIN_STAGE_MAX || strlen(name) >= PIN_NAME_MAX) {
		log_error("cannot stage %s: too many pins, or too long a name", name);
		return -E2BIG;
	}
	memset(it, 0, sizeof(*it));
	snprintf(it->name, sizeof(it->name), "%s", name);
	it->staged = staged;
	it->old_fd = old_fd >= 0 ? fcntl(old_fd, F_DUPFD_CLOEXEC, 3) : -1;
	if (old_fd >= 0 && it->old_fd < 0) {
		int err = -errno;

		log_error("cannot keep hold of the pinned %s: %s", name, strerror(-err));
		return err;
	}
	s->count++;
	return 0;
}

int pin_stage_add(struct pin_stage *s, const char *name, int fd, int old_fd)
{
	char path[PATH_MAX];
	int err;

	if (join(path, sizeof(path), s->stage, name) < 0) {
		log_error("cannot stage %s: the path is too long", name);
		return -ENAMETOOLONG;
	}
	err = new_item(s, name, old_fd, true);
	if (err)
		return err;
	if (bpf_obj_pin(fd, path) < 0) {
		err = -errno;
		log_error("cannot pin %s: %s", path, strerror(-err));
		return err;
	}
	return 0;
}

int pin_stage_drop(struct pin_stage *s, const char *name, int old_fd)
{
	return new_item(s, name, old_fd, false);
}

/* Move a staged pin into the pin directory, in place of what was there. */
static int move_in(struct pin_stage *s, struct pin_stage_item *it)
{
	char from[PATH_MAX], to[PATH_MAX];

	if (join(from, sizeof(from), s->stage, it->name) < 0 ||
	    join(to, sizeof(to), s->dir, it->name) < 0)
		return -ENAMETOOLONG;
	if (rename(from, to) < 0) {
		int err = -errno;

		log_error("cannot move %s into place: %s", from, strerror(-err));
		return err;
	}
	it->moved = true;
	it->old_gone = it->old_fd >= 0;
	return 0;
}

/* Remove what the pin directory holds under the name (old_fd keeps it). */
static int take_away(struct pin_stage *s, struct pin_stage_item *it)
{
	char path[PATH_MAX];

	if (it->old_fd < 0)
		return 0;
	if (join(path, sizeof(path), s->dir, it->name) < 0)
		return -ENAMETOOLONG;
	if (unlink(path) < 0 && errno != ENOENT) {
		int err = -errno;

		log_error("cannot remove %s: %s", path, strerror(-err));
		return err;
	}
	it->old_gone = true;
	return 0;
}

/* Put back, in reverse, what a failed commit changed. Returns how many could not be. */
static int undo(struct pin_stage *s)
{
	char in_dir[PATH_MAX], in_stage[PATH_MAX];
	int failed = 0;

	for (size_t i = s->count; i-- > 0;) {
		struct pin_stage_item *it = &s->items[i];

		if (join(in_dir, sizeof(in_dir), s->dir, it->name) < 0 ||
		    join(in_stage, sizeof(in_stage), s->stage, it->name) < 0)
			continue;
		if (it->moved && rename(in_dir, in_stage) < 0) {
			log_error("cannot take %s back out: %s", in_dir, strerror(errno));
			failed++;
			continue;
		}
		it->moved = false;
		if (it->old_gone && bpf_obj_pin(it->old_fd, in_dir) < 0) {
			log_error("cannot pin %s back: %s", in_dir, strerror(errno));
			failed++;
			continue;
		}
		it->old_gone = false;
	}
	return failed;
}

int pin_stage_commit(struct pin_stage *s)
{
	struct pin_stage_item *marker = NULL;
	int err;

	for (size_t i = 0; i < s->count; i++)
		if (s->items[i].staged)
			marker = &s->items[i];
	/* Until the marker arrives the directory holds an incomplete set, never a mixed one. */
	if (marker && (err = take_away(s, marker)))
		goto fail;
	for (size_t i = 0; i < s->count; i++) {
		struct pin_stage_item *it = &s->items[i];

		if (it == marker)
			continue;
		err = it->staged ? move_in(s, it) : take_away(s, it);
		if (err)
			goto fail;
	}
	if (marker && (err = move_in(s, marker)))
		goto fail;
	return 0;
fail:
	if (undo(s) == 0)
		log_notice("put the objects pinned in %s back as they were", s->dir);
	return err;
}

void pin_stage_end(struct pin_stage *s)
{
	if (s->active)
		pin_stage_clear(s->dir);
	for (size_t i = 0; i < s->count; i++)
		if (s->items[i].old_fd >= 0)
			close(s->items[i].old_fd);
	s->count = 0;
	s->active = false;
}
