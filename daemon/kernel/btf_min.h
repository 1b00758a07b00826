/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The kernel BTF a CO-RE load needs, cut down to what one object uses. */
#ifndef GREETER_BTF_MIN_H
#define GREETER_BTF_MIN_H

#include <stddef.h>

struct btf;

/*
 * A small BTF holding what libbpf's CO-RE relocation of the `local` object
 * can ask of `target` (the kernel's BTF): every named struct, union, enum
 * and typedef of `local` that `target` also has, copied from `target` with
 * the exact layout. Members that are embedded (structs, unions, arrays) are
 * copied whole, so every access path resolves to the same offset as in
 * `target`; pointers keep their kind but point to a forward declaration (or
 * void), which is all CO-RE compares a pointer field by.
 *
 * Handing this file to libbpf (btf_custom_path) spares it parsing the
 * kernel's full BTF, megabytes of it, on every load.
 *
 * Returns NULL with errno set; a message in err.
 */
struct btf *btf_min_new(const struct btf *target, const struct btf *local, char *err,
			size_t err_size);

#endif
