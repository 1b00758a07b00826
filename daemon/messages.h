/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The configured messages: the pinned config map is the truth, and every
 * accepted change is written to the state file before it is acknowledged.
 */
#ifndef GREETER_MESSAGES_H
#define GREETER_MESSAGES_H

#include <limits.h>
#include <linux/types.h>
#include <stddef.h>
#include <stdint.h>

#include "greeter.h"
#include "entries.h"

struct messages {
	int config_fd;
	char state_dir[PATH_MAX];
};

void messages_init(struct messages *m, int config_fd, const char *state_dir);

/*
 * Set uid's message (GREETER_DEFAULT_UID: the default). The text must pass
 * greeter_validate_message(). Durable before it returns 0; on any error the
 * map is as it was and err says why.
 */
int messages_set(struct messages *m, uint32_t uid, const char *text, size_t len, char *err,
		 size_t err_size);

/* Remove uid's message; -ENOENT when it has none. Durable like messages_set(). */
int messages_remove(struct messages *m, uint32_t uid, char *err, size_t err_size);

/* The message an exec by uid would get, and where it comes from. */
int messages_get(struct messages *m, uint32_t uid, char out[GREETER_MESSAGE_SIZE],
		 enum greeter_source *source);

/* Whether uid has its own entry (or the default, for GREETER_DEFAULT_UID). */
int messages_lookup(struct messages *m, uint32_t uid, char out[GREETER_MESSAGE_SIZE]);

/* All configured messages, sorted by UID (the default last). */
int messages_list(struct messages *m, struct greeter_entries *out);

size_t messages_count(struct messages *m);

/* Write the state file from the map. */
int messages_save(struct messages *m, char *err, size_t err_size);

/* Put entries into the map (restoring from the state file). */
int messages_load(struct messages *m, const struct greeter_entries *entries);

#endif
