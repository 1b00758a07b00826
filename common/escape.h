/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Make hostile text (comm, filename, message: anything a process, the kernel
 * or a client chose) safe to print on a terminal or in a log line.
 */
#ifndef GREETER_ESCAPE_H
#define GREETER_ESCAPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Output size, NUL included, for which greeter_escape() never truncates n
 * input bytes: one input byte becomes at most 4 ("\xHH"); a C1 control is 2
 * bytes in, 6 out ("\u0085"); the other \uXXXX escapes are 3 bytes in, 6 out.
 */
#define GREETER_ESCAPED_SIZE(n) ((size_t)(n)*4 + 1)

/*
 * Escape the in_len bytes at in (stopping early at a NUL) into out:
 *   - printable ASCII as is, except '\' which becomes "\\";
 *   - newline, tab, carriage return become "\n", "\t", "\r";
 *   - other C0 controls, DEL, and bytes that are not part of a valid UTF-8
 *     sequence become "\xHH";
 *   - valid UTF-8 is kept, except C1 controls (U+0080 to U+009F), the line and
 *     paragraph separators (U+2028, U+2029) and the Unicode Bidi_Control
 *     characters (U+061C, U+200E, U+200F, U+202A to U+202E, U+2066 to
 *     U+2069), which become "\uXXXX".
 *
 * If out_size is not 0, out is always NUL-terminated; when space runs out the
 * output stops before the first escape or UTF-8 sequence that does not fit
 * whole. Returns the number of bytes written, without the NUL.
 */
size_t greeter_escape(char *out, size_t out_size, const char *in, size_t in_len);

/*
 * The code points above that greeter_escape() writes as "\uXXXX": valid
 * UTF-8 that can move the cursor, break lines or reorder what is displayed
 * (C1 controls, U+2028, U+2029 and the "Trojan Source" Bidi_Control ones).
 */
bool greeter_needs_u_escape(uint32_t cp);

#endif /* GREETER_ESCAPE_H */
