/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The id of an exec: the boot it happened in, its CLOCK_BOOTTIME in
 * nanoseconds and the process's pid, as "BOOTID-NS-PID" (the boot id's 32
 * hex digits). The kernel names an exec by its time and pid; the boot id
 * makes that unique on the host across boots. Every sink writes the same.
 */
#ifndef GREETER_EXEC_ID_H
#define GREETER_EXEC_ID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 32 + 1 + 20 + 1 + 10 and the NUL. */
#define EXEC_ID_SIZE 65

/*
 * This boot's id (/proc/sys/kernel/random/boot_id), read once: 32 lowercase
 * hex digits, or 32 zeros when it cannot be read.
 */
const char *exec_id_boot(void);

/* The id of the exec at exec_ns of pid into out; "" when exec_ns is 0 (none). */
void exec_id_format(char out[EXEC_ID_SIZE], uint64_t exec_ns, uint32_t pid);

/* Split an id of this boot into its time and pid; false when it is not one. */
bool exec_id_parse(const char *id, uint64_t *exec_ns, uint32_t *pid);

#endif
