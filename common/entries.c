// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "entries.h"
#include "validate.h"

#define ENTRIES_MIN_CAPACITY 16

/* Index of the first entry whose uid is >= uid. */
static size_t lower_bound(const struct greeter_entries *list, uint32_t uid)
{
	size_t lo = 0, hi = list->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (list->items[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int grow(struct greeter_entries *list)
{
	struct greeter_entry *items;
	size_t capacity;

	capacity = list->capacity ? list->capacity * 2 : ENTRIES_MIN_CAPACITY;
	if (capacity > GREETER_MAX_MESSAGES)
		capacity = GREETER_MAX_MESSAGES;
	items = realloc(list->items, capacity * sizeof(*items));
	if (!items)
		return -ENOMEM;
	list->items = items;
	list->capacity = capacity;
	return 0;
}

int greeter_entries_add(struct greeter_entries *list, uint32_t uid, const char *text)
{
	struct greeter_entry entry;
	size_t len, i;
	int r;

	if (!list || !text)
		return -EINVAL;
	/* strnlen: text may be a buffer without a NUL; GREETER_MESSAGE_SIZE
	 * bytes long is one too many. */
	len = strnlen(text, GREETER_MESSAGE_SIZE);
	r = greeter_validate_message(text, len, NULL);
	if (r < 0)
		return r;

	/* Copy first: text may point into list->items, which moves below. */
	memset(&entry, 0, sizeof(entry));
	entry.uid = uid;
	memcpy(entry.text, text, len);

	i = lower_bound(list, uid);
	if (i < list->count && list->items[i].uid == uid) {
		list->items[i] = entry;
		return 0;
	}
	if (list->count >= GREETER_MAX_MESSAGES)
		return -ENOSPC;
	if (list->count == list->capacity) {
		r = grow(list);
		if (r < 0)
			return r;
	}
	memmove(&list->items[i + 1], &list->items[i], (list->count - i) * sizeof(entry));
	list->items[i] = entry;
	list->count++;
	return 0;
}

const struct greeter_entry *greeter_entries_find(const struct greeter_entries *list, uint32_t uid)
{
	size_t i;

	if (!list)
		return NULL;
	i = lower_bound(list, uid);
	if (i < list->count && list->items[i].uid == uid)
		return &list->items[i];
	return NULL;
}

int greeter_entries_remove(struct greeter_entries *list, uint32_t uid)
{
	size_t i;

	if (!list)
		return -EINVAL;
	i = lower_bound(list, uid);
	if (i >= list->count || list->items[i].uid != uid)
		return -ENOENT;
	memmove(&list->items[i], &list->items[i + 1],
		(list->count - i - 1) * sizeof(list->items[0]));
	list->count--;
	return 0;
}

void greeter_entries_free(struct greeter_entries *list)
{
	if (!list)
		return;
	free(list->items);
	list->items = NULL;
	list->count = 0;
	list->capacity = 0;
}
