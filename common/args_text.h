/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A command line as one line of text (journal GREETER_ARGS, greeterd
 * --print-events): each argument escaped as greeter_escape() does, joined by
 * single spaces. An argument that is empty, or holds a space (or a
 * character that looks like one, such as U+00A0) or a double quote, is
 * written in double quotes, with \" for each double quote in it,
 * so that the line splits back into the arguments unambiguously: outside
 * quotes a space separates, and '"' and '\' never stand for themselves
 * unescaped.
 */
#ifndef GREETER_ARGS_TEXT_H
#define GREETER_ARGS_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Output size, NUL included, for which greeter_args_text() never cuts n
 * bytes of arguments (each counted with its NUL): an argument of k bytes
 * (k + 1 with its NUL) takes at most 4 * k + 3 bytes with its quotes and
 * separator.
 */
#define GREETER_ARGS_TEXT_SIZE(n) ((size_t)(n)*4 + 1)

/*
 * Whether arg must be quoted to be told apart from its neighbours: empty,
 * holding a space, a look-alike of one, or a double quote. greeterctl tail
 * quotes by the same rule.
 */
bool greeter_arg_needs_quotes(const char *arg);

/*
 * Write the count arguments at args (each NUL-terminated, back to back) into
 * out. If out_size is not 0, out is always NUL-terminated; when space runs
 * out, the output ends before the first argument that does not fit whole.
 * Returns the number of bytes written, without the NUL.
 */
size_t greeter_args_text(char *out, size_t out_size, const char *args, size_t count);

#endif
