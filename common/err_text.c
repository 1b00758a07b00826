// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "err_text.h"

__attribute__((format(printf, 3, 0))) void vset_err(char *err, size_t err_size, const char *fmt,
						    va_list ap)
{
	if (err && err_size > 0)
		vsnprintf(err, err_size, fmt, ap);
}

__attribute__((format(printf, 3, 4))) void set_err(char *err, size_t err_size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset_err(err, err_size, fmt, ap);
	va_end(ap);
}

/* err = the formatted text + ": " + strerror(e); returns -e. */
__attribute__((format(printf, 4, 5))) int set_errno(char *err, size_t err_size, int e,
						    const char *fmt, ...)
{
	char buf[128];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vset_err(err, err_size, fmt, ap);
	va_end(ap);
	if (err && err_size > 0) {
		n = strlen(err);
		snprintf(err + n, err_size - n, ": %s", strerror_r(e, buf, sizeof(buf)));
	}
	return -e;
}

int bad(char *err, size_t err_size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset_err(err, err_size, fmt, ap);
	va_end(ap);
	return -EBADMSG;
}
