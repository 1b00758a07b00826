/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Errors as text into a caller's buffer (which may be NULL or 0 bytes). */
#ifndef GREETER_ERR_TEXT_H
#define GREETER_ERR_TEXT_H

#include <stdarg.h>
#include <stddef.h>

__attribute__((format(printf, 3, 0))) void vset_err(char *err, size_t err_size, const char *fmt,
						    va_list ap);
__attribute__((format(printf, 3, 4))) void set_err(char *err, size_t err_size, const char *fmt,
						   ...);
/* err = the formatted text + ": " + strerror(e); returns -e. */
__attribute__((format(printf, 4, 5))) int set_errno(char *err, size_t err_size, int e,
						    const char *fmt, ...);
/* Record why data is not valid; returns -EBADMSG. */
__attribute__((format(printf, 3, 4))) int bad(char *err, size_t err_size, const char *fmt, ...);

#endif
