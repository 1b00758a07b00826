/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Creating the directories greeterd writes to. */
#ifndef GREETER_DIRS_H
#define GREETER_DIRS_H

#include <sys/types.h>

/* mkdir -p of path's parents (mode 0755, so users can reach a socket in them). */
int dirs_make_parents(const char *path);

/* mkdir -p of path itself, the last component with mode. */
int dirs_make(const char *path, mode_t mode);

#endif
