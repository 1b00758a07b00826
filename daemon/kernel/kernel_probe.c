// SPDX-License-Identifier: LGPL-2.1-or-later
#include "kernel_probe.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The release where each feature the kernel may lack first appeared, for the refusal. */
#define RINGBUF_SINCE "Linux 5.8"
#define ATOMIC_FETCH_SINCE "Linux 5.12"
#define PERF_LINK_SINCE "Linux 5.15"
/* The oldest release with everything greeter needs (greeterd(8), REQUIREMENTS). */
#define MINIMUM_RELEASE "Linux 5.15"

/* Helper names by id, from the kernel's own list. */
#define HELPER_NAME(x) [BPF_FUNC_##x] = "bpf_" #x
static const char *const helper_names[] = { __BPF_FUNC_MAPPER(HELPER_NAME) };
#undef HELPER_NAME

#define INSN(c, dst, src, o, i)                                                                    \
	((struct bpf_insn){                                                                        \
		.code = (c), .dst_reg = (dst), .src_reg = (src), .off = (o), .imm = (i) })
#define MOV_IMM(dst, i) INSN(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, i)
#define EXIT() INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

/* What the object needs, probed one by one; ATOMIC's size is the access size. */
struct need {
	struct kernel_lack what;
	__u8 size;
};

#define MAX_NEEDS 128

struct needs {
	size_t count;
	struct need items[MAX_NEEDS];
};

static void add_need(struct needs *n, enum kernel_lack_kind kind, __u32 prog_type, __u32 id,
		     __u8 size)
{
	for (size_t i = 0; i < n->count; i++) {
		const struct need *x = &n->items[i];

		if (x->what.kind == kind && x->what.prog_type == prog_type && x->what.id == id &&
		    x->size == size)
			return;
	}
	/* The object is ours and needs far fewer. */
	if (n->count < MAX_NEEDS)
		n->items[n->count++] =
			(struct need){ .what = { .kind = kind, .prog_type = prog_type, .id = id },
				       .size = size };
}

/* The instructions of the object's subprograms (its .text section): none if it has none. */
struct subprogs {
	struct bpf_insn *insns; /* malloc'd */
	size_t count;
};

/* A copy of the subprograms' instructions; none when they cannot be read (the load then tells). */
static void find_subprogs(const void *elf, size_t elf_size, struct subprogs *sub)
{
	Elf *e;
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	sub->insns = NULL;
	sub->count = 0;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return;
	e = elf_memory((char *)elf, elf_size);
	if (!e)
		return;
	if (elf_getshdrstrndx(e, &shstrndx) == 0) {
		while ((scn = elf_nextscn(e, scn))) {
			GElf_Shdr sh;
			const char *name;
			Elf_Data *data;

			if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS)
				continue;
			name = elf_strptr(e, shstrndx, sh.sh_name);
			if (!name || strcmp(name, ".text") != 0)
				continue;
			data = elf_getdata(scn, NULL);
			if (data && data->d_buf && data->d_size >= sizeof(struct bpf_insn)) {
				sub->insns = malloc(data->d_size);
				if (sub->insns) {
					memcpy(sub->insns, data->d_buf, data->d_size);
					sub->count = data->d_size / sizeof(struct bpf_insn);
				}
			}
			break;
		}
	}
	elf_end(e);
}

/* Helpers and atomic instructions in insns, for a program of type; whether any calls a subprogram. */
static bool insns_needs(const struct bpf_insn *insns, size_t count, __u32 type, struct needs *n)
{
	bool calls = false;

	for (size_t i = 0; i < count; i++) {
		__u8 code = insns[i].code;

		/* src_reg 0: a helper; BPF_PSEUDO_CALL a subprogram; others kernel functions. */
		if (code == (BPF_JMP | BPF_CALL) && insns[i].src_reg == 0)
			add_need(n, KERNEL_LACKS_HELPER, type, (__u32)insns[i].imm, 0);
		else if (code == (BPF_JMP | BPF_CALL) && insns[i].src_reg == BPF_PSEUDO_CALL)
			calls = true;
		else if (BPF_CLASS(code) == BPF_STX && BPF_MODE(code) == BPF_ATOMIC)
			add_need(n, KERNEL_LACKS_ATOMIC, 0, (__u32)insns[i].imm, BPF_SIZE(code));
	}
	return calls;
}

/*
 * Program types, helpers and atomic instructions of one program, and of the
 * subprograms it may call (libbpf appends them only at load: a program
 * that calls any is taken to need what all of them do).
 */
static void program_needs(const struct bpf_program *prog, const struct subprogs *sub,
			  struct needs *n)
{
	__u32 type = (__u32)bpf_program__type(prog);

	add_need(n, KERNEL_LACKS_PROG_TYPE, type, 0, 0);
	if (insns_needs(bpf_program__insns(prog), bpf_program__insn_cnt(prog), type, n) &&
	    sub->count)
		insns_needs(sub->insns, sub->count, type, n);
}

/* Load a tiny tracepoint program: 1 and its fd if taken, 0 if refused, -EPERM. */
static int load_tiny(const struct bpf_insn *insns, size_t count, int *fd_out)
{
	int fd = bpf_prog_load(BPF_PROG_TYPE_TRACEPOINT, NULL, "GPL", insns, count, NULL);

	if (fd < 0)
		return errno == EPERM ? -EPERM : 0;
	if (fd_out)
		*fd_out = fd;
	else
		close(fd);
	return 1;
}

/* The instruction on a stack slot; any program type would do, the verifier's check is the same. */
static int probe_atomic(__u32 op, __u8 size)
{
	const struct bpf_insn insns[] = {
		MOV_IMM(BPF_REG_0, 0), /* compare-and-exchange compares with r0 */
		MOV_IMM(BPF_REG_1, 0),
		INSN(BPF_STX | BPF_MEM | BPF_DW, BPF_REG_10, BPF_REG_1, -8, 0),
		MOV_IMM(BPF_REG_1, 1),
		INSN(BPF_STX | BPF_ATOMIC | size, BPF_REG_10, BPF_REG_1, -8, (__s32)op),
		MOV_IMM(BPF_REG_0, 0),
		EXIT(),
	};

	return load_tiny(insns, sizeof(insns) / sizeof(insns[0]), NULL);
}

/*
 * A call of the helper, as libbpf_probe_bpf_helper() loads it, with what
 * the verifier says of a helper it lacks for the type in any release (the
 * third only from 6.x on; libbpf 1.1 misses it). libbpf's log buffer is
 * also left undefined for valgrind, which does not see the kernel write it.
 */
static int probe_helper(__u32 prog_type, __u32 id)
{
	const struct bpf_insn insns[] = { INSN(BPF_JMP | BPF_CALL, 0, 0, 0, (__s32)id), EXIT() };
	char log[4096] = "";
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .log_buf = log, .log_size = sizeof(log),
		    .log_level = 1);
	int fd;

	fd = bpf_prog_load((enum bpf_prog_type)prog_type, NULL, "GPL", insns,
			   sizeof(insns) / sizeof(insns[0]), &opts);
	if (fd >= 0) {
		close(fd);
		return 1;
	}
	if (errno == EPERM)
		return -EPERM;
	return !strstr(log, "invalid func ") && !strstr(log, "unknown func ") &&
		!strstr(log, "program of this type cannot use helper ");
}

/*
 * libbpf attaches tracepoints and kprobes by a perf event BPF link, which can
 * be pinned, where the kernel has them; else by an ioctl on the perf event,
 * which nothing can pin. Asked for a link on no perf event at all, a kernel
 * that has them says EBADF; one that has not, EINVAL.
 */
static int probe_perf_link(void)
{
	const struct bpf_insn insns[] = { MOV_IMM(BPF_REG_0, 0), EXIT() };
	int prog_fd = -1, link_fd, err, r;

	r = load_tiny(insns, sizeof(insns) / sizeof(insns[0]), &prog_fd);
	if (r <= 0)
		return r;
	link_fd = bpf_link_create(prog_fd, -1, BPF_PERF_EVENT, NULL);
	err = errno;
	if (link_fd >= 0)
		close(link_fd);
	close(prog_fd);
	return link_fd >= 0 || err == EBADF;
}

static int probe_need(const struct need *n)
{
	switch (n->what.kind) {
	case KERNEL_LACKS_PROG_TYPE:
		return libbpf_probe_bpf_prog_type((enum bpf_prog_type)n->what.prog_type, NULL);
	case KERNEL_LACKS_MAP_TYPE:
		return libbpf_probe_bpf_map_type((enum bpf_map_type)n->what.id, NULL);
	case KERNEL_LACKS_HELPER:
		return probe_helper(n->what.prog_type, n->what.id);
	case KERNEL_LACKS_ATOMIC:
		return probe_atomic(n->what.id, n->size);
	case KERNEL_LACKS_PERF_LINK:
		return probe_perf_link();
	}
	return -EINVAL;
}

int kernel_probe(const void *elf, size_t elf_size, bool kprobes, struct kernel_lacks *lacks)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = "greeter_probe");
	struct needs needs = { 0 };
	struct subprogs sub;
	struct bpf_program *prog;
	struct bpf_object *obj;
	struct bpf_map *map;
	int r;

	memset(lacks, 0, sizeof(*lacks));
	lacks->kprobes = kprobes;
	/* First, as its tiny load also tells a missing permission from a missing feature. */
	add_need(&needs, KERNEL_LACKS_PERF_LINK, 0, 0, 0);
	/* Opening parses the object only: nothing reaches the kernel. */
	obj = bpf_object__open_mem(elf, elf_size, &opts);
	if (!obj)
		return -errno;
	find_subprogs(elf, elf_size, &sub);
	bpf_object__for_each_program (prog, obj) {
		if (bpf_program__type(prog) != BPF_PROG_TYPE_KPROBE || kprobes)
			program_needs(prog, &sub, &needs);
	}
	free(sub.insns);
	bpf_object__for_each_map (map, obj)
		add_need(&needs, KERNEL_LACKS_MAP_TYPE, 0, (__u32)bpf_map__type(map), 0);
	bpf_object__close(obj);

	for (size_t i = 0; i < needs.count; i++) {
		r = probe_need(&needs.items[i]);
		if (r < 0)
			return r;
		if (r == 0 && lacks->count < KERNEL_PROBE_MAX_LACKS)
			lacks->items[lacks->count++] = needs.items[i].what;
	}
	return lacks->count ? 1 : 0;
}

static const char *helper_name(__u32 id, char *buf, size_t size)
{
	if (id < sizeof(helper_names) / sizeof(helper_names[0]) && helper_names[id])
		return helper_names[id];
	snprintf(buf, size, "#%u", id);
	return buf;
}

static const char *atomic_name(__u32 op)
{
	switch (op) {
	case BPF_ADD:
		return "atomic add";
	case BPF_ADD | BPF_FETCH:
		return "atomic fetch-and-add";
	case BPF_AND:
	case BPF_AND | BPF_FETCH:
		return op & BPF_FETCH ? "atomic fetch-and-and" : "atomic and";
	case BPF_OR:
	case BPF_OR | BPF_FETCH:
		return op & BPF_FETCH ? "atomic fetch-and-or" : "atomic or";
	case BPF_XOR:
	case BPF_XOR | BPF_FETCH:
		return op & BPF_FETCH ? "atomic fetch-and-xor" : "atomic xor";
	case BPF_XCHG:
		return "atomic exchange";
	case BPF_CMPXCHG:
		return "atomic compare-and-exchange";
	default:
		return "atomic operation";
	}
}

static const char *type_name(const char *name)
{
	return name ? name : "unknown";
}

#define MAX_PHRASES 16
#define PHRASE_SIZE 256

/* The helpers missing for one program type, as one phrase. */
static void helpers_phrase(const struct kernel_lacks *l, __u32 prog_type, char *out, size_t size)
{
	size_t n = 0, k = 0, len;
	char buf[32];

	for (size_t i = 0; i < l->count; i++)
		n += l->items[i].kind == KERNEL_LACKS_HELPER && l->items[i].prog_type == prog_type;
	len = (size_t)snprintf(out, size, "the BPF helper%s ", n > 1 ? "s" : "");
	for (size_t i = 0; i < l->count && len < size; i++) {
		const struct kernel_lack *x = &l->items[i];

		if (x->kind != KERNEL_LACKS_HELPER || x->prog_type != prog_type)
			continue;
		k++;
		len += (size_t)snprintf(out + len, size - len, "%s%s",
					k == 1 ? "" : (k == n ? " and " : ", "),
					helper_name(x->id, buf, sizeof(buf)));
	}
	if (len < size)
		snprintf(out + len, size - len, " in %s programs",
			 type_name(libbpf_bpf_prog_type_str((enum bpf_prog_type)prog_type)));
}

/* One phrase per lack, helpers grouped by program type; in the order of the kinds. */
static size_t lack_phrases(const struct kernel_lacks *l, char phrases[][PHRASE_SIZE])
{
	size_t n = 0;

	for (int kind = KERNEL_LACKS_PROG_TYPE; kind <= KERNEL_LACKS_PERF_LINK; kind++) {
		for (size_t i = 0; i < l->count && n < MAX_PHRASES; i++) {
			const struct kernel_lack *x = &l->items[i];
			bool first = true;

			if ((int)x->kind != kind)
				continue;
			switch (x->kind) {
			case KERNEL_LACKS_PROG_TYPE:
				snprintf(phrases[n++], PHRASE_SIZE, "BPF programs of type %s",
					 type_name(libbpf_bpf_prog_type_str(
						 (enum bpf_prog_type)x->prog_type)));
				break;
			case KERNEL_LACKS_MAP_TYPE:
				if (x->id == BPF_MAP_TYPE_RINGBUF)
					snprintf(phrases[n++], PHRASE_SIZE,
						 "BPF ring buffers (" RINGBUF_SINCE ")");
				else
					snprintf(phrases[n++], PHRASE_SIZE, "BPF maps of type %s",
						 type_name(libbpf_bpf_map_type_str(
							 (enum bpf_map_type)x->id)));
				break;
			case KERNEL_LACKS_HELPER:
				/* One phrase per program type, at its first helper. */
				for (size_t j = 0; j < i; j++)
					first &= !(l->items[j].kind == KERNEL_LACKS_HELPER &&
						   l->items[j].prog_type == x->prog_type);
				if (first)
					helpers_phrase(l, x->prog_type, phrases[n++], PHRASE_SIZE);
				break;
			case KERNEL_LACKS_ATOMIC:
				snprintf(phrases[n++], PHRASE_SIZE, "the BPF instruction %s%s",
					 atomic_name(x->id),
					 x->id == BPF_ADD ? "" : " (" ATOMIC_FETCH_SINCE ")");
				break;
			case KERNEL_LACKS_PERF_LINK:
				snprintf(phrases[n++], PHRASE_SIZE,
					 "BPF links for %s (" PERF_LINK_SINCE
					 "), which keep the programs attached without greeterd",
					 l->kprobes ? "kprobes and tracepoints" : "tracepoints");
				break;
			}
		}
	}
	return n;
}

void kernel_probe_refusal(const struct kernel_lacks *lacks, const char *release, char *out,
			  size_t size)
{
	char phrases[MAX_PHRASES][PHRASE_SIZE];
	size_t n = lack_phrases(lacks, phrases), len;

	len = (size_t)snprintf(out, size, "kernel %s lacks ", release);
	for (size_t i = 0; i < n && len < size; i++)
		len += (size_t)snprintf(out + len, size - len, "%s%s",
					i == 0 ? "" : (i + 1 == n ? " and " : ", "), phrases[i]);
	if (len < size)
		snprintf(out + len, size - len,
			 "; greeter needs " MINIMUM_RELEASE
			 " or later, or these features backported");
}
