/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One greeterd per directory (the pin directory, the state directory): an
 * exclusive lock on the directory, held while greeterd runs. */
#ifndef GREETER_DIR_LOCK_H
#define GREETER_DIR_LOCK_H

/*
 * Locks dir (what names it in messages: "pin directory", "state
 * directory"). Returns the descriptor that holds the lock, or a negative
 * errno: -EBUSY when another process holds it, said in one sentence naming
 * the directory and that process's pid, with option as the way out. When
 * the greeterd that took the lock has ended, what holds it are the children
 * it left, which end with it (killed): waits up to 10 s for them.
 */
int dir_lock(const char *dir, const char *what, const char *option);

#endif
