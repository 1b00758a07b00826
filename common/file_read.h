/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Reading a whole file the daemon keeps (state, change log), bounded. */
#ifndef GREETER_FILE_READ_H
#define GREETER_FILE_READ_H

#include <stddef.h>

/*
 * Read the regular file at path, at most max bytes, into *buf (malloc'd,
 * NUL-terminated past *len). Returns 0; 1 when it does not exist; -EINVAL
 * when it is not a regular file (a FIFO in its place does not block);
 * -EFBIG when it holds more than max bytes (it may grow while read);
 * another -errno when it cannot be read. err says which, with the path.
 */
int file_read_all(const char *path, size_t max, char **buf, size_t *len, char *err,
		  size_t err_size);

#endif
