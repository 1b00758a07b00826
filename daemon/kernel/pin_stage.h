/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A new pin set is made complete aside, in <pin dir>/staging, and put in
 * place by renames within the pin directory once the start has succeeded;
 * should a rename fail, what was there is pinned back. A start that fails
 * removes the staging directory: the pin directory stays as it was.
 */
#ifndef GREETER_PIN_STAGE_H
#define GREETER_PIN_STAGE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#define PIN_STAGE_DIR "staging" /* bpffs refuses names with dots */
#define PIN_STAGE_MAX 32
#define PIN_NAME_MAX 32

struct pin_stage_item {
	char name[PIN_NAME_MAX];
	int old_fd; /* what the pin directory holds under the name, or -1 */
	bool staged; /* else the name is only removed at commit */
	bool moved; /* the staged pin is in the pin directory */
	bool old_gone; /* old_fd's object is no longer pinned under the name */
};

struct pin_stage {
	char dir[PATH_MAX];
	char stage[PATH_MAX];
	bool active; /* the staging directory exists */
	size_t count;
	struct pin_stage_item items[PIN_STAGE_MAX];
};

/*
 * Remove the staging directory of dir and what is pinned in it: one that a
 * greeterd stopped while starting left behind. Returns 1 when there was
 * one, 0 when not, or a negative errno after logging why it stays.
 */
int pin_stage_clear(const char *dir);

/* Start a pin set for dir, in a new staging directory (none may be left: see above). */
int pin_stage_begin(struct pin_stage *s, const char *dir);

/*
 * Pin fd under name in the staging directory. old_fd is what the pin
 * directory holds under that name now, or -1; it is copied, to pin the old
 * object back should the commit fail. The last name staged marks the set as
 * complete: at commit, the old one under that name leaves first and the
 * new one arrives last.
 */
int pin_stage_add(struct pin_stage *s, const char *name, int fd, int old_fd);

/* At commit, remove name (that old_fd holds) from the pin directory. */
int pin_stage_drop(struct pin_stage *s, const char *name, int old_fd);

/* Put the staged set in place; when that fails, put back what was there. */
int pin_stage_commit(struct pin_stage *s);

/* Remove the staging directory, with what it still holds, and the copies of old fds. */
void pin_stage_end(struct pin_stage *s);

#endif
