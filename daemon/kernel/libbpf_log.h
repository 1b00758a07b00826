/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libbpf's messages: debug lines with --verbose and, always, what a failed
 * step needs to say why: libbpf's first warning, and for a program the
 * verifier refused, the line of its log that gives the reason.
 */
#ifndef GREETER_LIBBPF_LOG_H
#define GREETER_LIBBPF_LOG_H

#include <stddef.h>

#include "kernel.h"


/* Forget what earlier steps left, before a step whose failure is to be explained. */
void libbpf_log_reset(void);

/* libbpf's first warning since the reset, or NULL. */
const char *libbpf_log_first_warning(void);

/* The verifier's reason for refusing a program since the reset, and which; or NULL. */
const char *libbpf_log_verifier_reason(const char **prog);

/*
 * The line of a verifier log that says why the program was refused: the
 * last one, not counting the statistics the verifier prints after it.
 */
void libbpf_log_find_reason(const char *log, char *out, size_t size);

#endif
