/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Gives freed heap back to the kernel. Loading the BPF object (the kernel's
 * BTF) and a burst of connections leave megabytes free inside the heap,
 * which glibc keeps; a periodic check returns them once enough is free.
 */
#ifndef GREETER_HEAP_TRIM_H
#define GREETER_HEAP_TRIM_H

#include <systemd/sd-event.h>

/* A timer on loop, in *out (the caller's to unref). */
int heap_trim_start(sd_event *loop, sd_event_source **out);

#endif
