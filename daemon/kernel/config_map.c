// SPDX-License-Identifier: LGPL-2.1-or-later
#include "kernel.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 1024

int config_map_write(int fd, const struct greeter_entries *entries)
{
	__u32 *keys = NULL;
	struct greeter_message *values = NULL;
	bool batches = entries->count > 1;
	size_t i = 0;
	int r = 0;

	if (batches) {
		keys = malloc(BATCH * sizeof(*keys));
		values = calloc(BATCH, sizeof(*values));
		batches = keys && values;
	}
	while (batches && i < entries->count) {
		__u32 n = 0;

		for (; n < BATCH && i + n < entries->count; n++) {
			keys[n] = entries->items[i + n].uid;
			memcpy(values[n].text, entries->items[i + n].text, sizeof(values[n].text));
		}
		if (bpf_map_update_batch(fd, keys, values, &n, NULL) < 0) {
			/* No batches here (EINVAL, ENOTSUPP): one by one from where we are. */
			if (errno != EINVAL && errno != 524 && errno != EOPNOTSUPP) {
				r = -errno;
				goto out;
			}
			break;
		}
		i += n;
	}
	for (; i < entries->count; i++) {
		struct greeter_message msg = { 0 };

		memcpy(msg.text, entries->items[i].text, sizeof(msg.text));
		if (bpf_map_update_elem(fd, &entries->items[i].uid, &msg, BPF_ANY) < 0) {
			r = -errno;
			goto out;
		}
	}
out:
	free(keys);
	free(values);
	return r;
}
