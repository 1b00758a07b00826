/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Replacing a file whole: never a torn file, whenever the writer dies. */
#ifndef GREETER_FILE_REPLACE_H
#define GREETER_FILE_REPLACE_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Write data to <dir>/<name>.tmp, then rename it over <dir>/<name>. With
 * durable, the file and then the directory are fsync'd too: the new
 * content survives a crash. Without, a crash may leave the old file, or an
 * empty one. err: what failed, on which path, and why.
 */
int file_replace(const char *dir, const char *name, const void *data, size_t len, bool durable,
		 char *err, size_t err_size);

/* fsync(2) a directory: a rename in it survives a crash. */
int file_sync_dir(const char *dir);

/* Write all len bytes (a short write or EINTR goes on); 0 or a negative errno. */
int file_write_all(int fd, const char *data, size_t len);

#endif
