/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A list of messages by UID, kept sorted by UID (so GREETER_DEFAULT_UID, the
 * default message, is always last) and without duplicates.
 */
#ifndef GREETER_ENTRIES_H
#define GREETER_ENTRIES_H

#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "greeter.h"

struct greeter_entry {
	uint32_t uid; /* GREETER_DEFAULT_UID for the default message */
	char text[GREETER_MESSAGE_SIZE]; /* NUL-terminated, zero-padded */
};

/* Zero-initialise ("= { 0 }") before first use. */
struct greeter_entries {
	struct greeter_entry *items; /* sorted by uid, ascending */
	size_t count;
	size_t capacity;
};

/*
 * Set the message of uid to the NUL-terminated text, replacing any message it
 * had. text is checked with greeter_validate_message().
 *
 * Returns 0, -EINVAL or -E2BIG if text is not a valid message, -ENOSPC if uid
 * is new and the list already holds GREETER_MAX_MESSAGES, -ENOMEM.
 */
int greeter_entries_add(struct greeter_entries *list, uint32_t uid, const char *text);

/* The entry of uid, or NULL. Valid until the list is next changed. */
const struct greeter_entry *greeter_entries_find(const struct greeter_entries *list, uint32_t uid);

/* Returns 0, or -ENOENT if uid has no entry. */
int greeter_entries_remove(struct greeter_entries *list, uint32_t uid);

/* Free the items; the list is left empty and reusable. */
void greeter_entries_free(struct greeter_entries *list);

#endif /* GREETER_ENTRIES_H */
