/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Writing many messages into the config map: in batches, a few syscalls in all. */
#ifndef GREETER_CONFIG_MAP_H
#define GREETER_CONFIG_MAP_H

#include "entries.h"

/*
 * Set every entry's message in the map at fd (BPF_ANY). 16,384 messages one
 * by one are 16,384 syscalls; batches make a start after a reboot, or an
 * import, cheap. Falls back to one by one where the kernel has no batches.
 * Returns 0 or a negative errno (some entries may then be written).
 */
int config_map_write(int fd, const struct greeter_entries *entries);

#endif
