// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The refusal of a kernel that lacks what greeter needs, from the probes'
 * results (a 5.10 kernel lacks two features; this machine's has all), and
 * the verifier's reason picked out of a refused program's log, as libbpf's
 * print callback hands it over.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <bpf/libbpf.h>
#include <cmocka.h>
#include <linux/bpf.h>

#include "kernel_probe.h"
#include "libbpf_log.h"

/* What a Debian 11 kernel (5.10) lacks: atomic fetch-add (5.12), perf event links (5.15). */
static struct kernel_lacks debian_11(bool kprobes)
{
	struct kernel_lacks l = { .kprobes = kprobes, .count = 2 };

	/* Found in probing order: the link first. */
	l.items[0] = (struct kernel_lack){ .kind = KERNEL_LACKS_PERF_LINK };
	l.items[1] = (struct kernel_lack){ .kind = KERNEL_LACKS_ATOMIC, .id = BPF_ADD | BPF_FETCH };
	return l;
}

static void test_debian_11_kprobes(void **state)
{
	struct kernel_lacks l = debian_11(true);
	char out[1024];

	kernel_probe_refusal(&l, "5.10.0-30-amd64", out, sizeof(out));
	assert_string_equal(out,
			    "kernel 5.10.0-30-amd64 lacks the BPF instruction atomic "
			    "fetch-and-add (Linux 5.12) and BPF links for kprobes and "
			    "tracepoints (Linux 5.15), which keep the programs attached "
			    "without greeterd; greeter needs Linux 5.15 or later, or these "
			    "features backported");
}

static void test_debian_11_tracepoints(void **state)
{
	struct kernel_lacks l = debian_11(false);
	char out[1024];

	kernel_probe_refusal(&l, "5.10.0-30-amd64", out, sizeof(out));
	assert_string_equal(out,
			    "kernel 5.10.0-30-amd64 lacks the BPF instruction atomic "
			    "fetch-and-add (Linux 5.12) and BPF links for tracepoints (Linux "
			    "5.15), which keep the programs attached without greeterd; greeter "
			    "needs Linux 5.15 or later, or these features backported");
}

static void test_links_only(void **state)
{
	struct kernel_lacks l = { .count = 1 };
	char out[1024];

	l.items[0] = (struct kernel_lack){ .kind = KERNEL_LACKS_PERF_LINK };
	kernel_probe_refusal(&l, "5.14.0-1", out, sizeof(out));
	assert_string_equal(out,
			    "kernel 5.14.0-1 lacks BPF links for tracepoints (Linux 5.15), "
			    "which keep the programs attached without greeterd; greeter needs "
			    "Linux 5.15 or later, or these features backported");
}

/* An older kernel: ring buffers missing, and with them their helpers. */
static void test_ring_buffers_and_helpers(void **state)
{
	struct kernel_lacks l = { .count = 4 };
	char out[1024];

	l.items[0] = (struct kernel_lack){ .kind = KERNEL_LACKS_HELPER,
					   .prog_type = BPF_PROG_TYPE_TRACEPOINT,
					   .id = BPF_FUNC_ringbuf_reserve };
	l.items[1] = (struct kernel_lack){ .kind = KERNEL_LACKS_HELPER,
					   .prog_type = BPF_PROG_TYPE_TRACEPOINT,
					   .id = BPF_FUNC_ringbuf_submit };
	l.items[2] =
		(struct kernel_lack){ .kind = KERNEL_LACKS_MAP_TYPE, .id = BPF_MAP_TYPE_RINGBUF };
	l.items[3] = (struct kernel_lack){ .kind = KERNEL_LACKS_HELPER,
					   .prog_type = BPF_PROG_TYPE_TRACEPOINT,
					   .id = BPF_FUNC_ringbuf_query };
	kernel_probe_refusal(&l, "5.4.0", out, sizeof(out));
	assert_string_equal(out,
			    "kernel 5.4.0 lacks BPF ring buffers (Linux 5.8) and the BPF "
			    "helpers bpf_ringbuf_reserve, bpf_ringbuf_submit and "
			    "bpf_ringbuf_query in tracepoint programs; greeter needs Linux 5.15 "
			    "or later, or these features backported");
}

static void test_other_types(void **state)
{
	struct kernel_lacks l = { .count = 3 };
	char out[1024];

	l.items[0] = (struct kernel_lack){ .kind = KERNEL_LACKS_PROG_TYPE,
					   .prog_type = BPF_PROG_TYPE_KPROBE };
	l.items[1] = (struct kernel_lack){ .kind = KERNEL_LACKS_MAP_TYPE,
					   .id = BPF_MAP_TYPE_PERCPU_ARRAY };
	l.items[2] = (struct kernel_lack){ .kind = KERNEL_LACKS_HELPER,
					   .prog_type = BPF_PROG_TYPE_KPROBE,
					   .id = 100000 };
	kernel_probe_refusal(&l, "4.0", out, sizeof(out));
	assert_string_equal(out,
			    "kernel 4.0 lacks BPF programs of type kprobe, BPF maps of type "
			    "percpu_array and the BPF helper #100000 in kprobe programs; "
			    "greeter needs Linux 5.15 or later, or these features backported");
}

/* A short buffer cuts the sentence, never overruns. */
static void test_truncates(void **state)
{
	struct kernel_lacks l = debian_11(true);
	char out[40];

	memset(out, 'x', sizeof(out));
	kernel_probe_refusal(&l, "5.10.0-30-amd64", out, 24);
	assert_string_equal(out, "kernel 5.10.0-30-amd64 ");
	assert_int_equal(out[30], 'x');
}

static void test_verifier_reason(void **state)
{
	char out[256];

	libbpf_log_find_reason("0: R1=ctx() R10=fp0\n"
			       "; e->seq = seq ? __sync_fetch_and_add(&seq->next, 1) + 1 : 0;\n"
			       "17: (db) r1 = atomic64_fetch_add((u64 *)(r0 +0), r1)\n"
			       "BPF_STX uses reserved fields\n"
			       "processed 18 insns (limit 1000000) max_states_per_insn 0 "
			       "total_states 1 peak_states 1 mark_read 1\n",
			       out, sizeof(out));
	assert_string_equal(out, "BPF_STX uses reserved fields");
	libbpf_log_find_reason("R1 type=scalar expected=fp\n\n", out, sizeof(out));
	assert_string_equal(out, "R1 type=scalar expected=fp");
	libbpf_log_find_reason("", out, sizeof(out));
	assert_string_equal(out, "");
	libbpf_log_find_reason("processed 1 insns\nverification time 5 usec\nstack depth 0\n", out,
			       sizeof(out));
	assert_string_equal(out, "");
	libbpf_log_find_reason("a long reason", out, 7);
	assert_string_equal(out, "a long");
}

__attribute__((format(printf, 3, 4))) static void
print(libbpf_print_fn_t fn, enum libbpf_print_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fn(level, fmt, ap);
	va_end(ap);
}

/* The print callback keeps libbpf's first warning and a refused program's reason. */
static void test_capture(void **state)
{
	const char *prog = NULL;
	libbpf_print_fn_t fn;

	libbpf_log_init();
	fn = libbpf_set_print(NULL);
	libbpf_set_print(fn);
	libbpf_log_reset();
	/* As libbpf 1.1 to 1.5 print a refused program (the formats are theirs). */
	print(fn, LIBBPF_WARN, "libbpf: prog '%s': BPF program load failed: %s\n", "sched_exec",
	      "Invalid argument");
	print(fn, LIBBPF_WARN,
	      "libbpf: prog '%s': -- BEGIN PROG LOAD LOG --\n%s-- END PROG LOAD LOG --\n",
	      "sched_exec",
	      "0: R1=ctx() R10=fp0\nBPF_STX uses reserved fields\nprocessed 18 insns\n");
	print(fn, LIBBPF_WARN, "libbpf: failed to load object '%s'\n", "greeter_bpf");
	assert_string_equal(libbpf_log_first_warning(),
			    "prog 'sched_exec': BPF program load failed: Invalid argument");
	assert_string_equal(libbpf_log_verifier_reason(&prog), "BPF_STX uses reserved fields");
	assert_string_equal(prog, "sched_exec");
	libbpf_log_reset();
	assert_null(libbpf_log_first_warning());
	assert_null(libbpf_log_verifier_reason(&prog));
	/* Debug lines are no warnings. */
	print(fn, LIBBPF_DEBUG, "libbpf: loading kernel BTF '%s': %d\n", "/sys/kernel/btf/vmlinux",
	      0);
	assert_null(libbpf_log_first_warning());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_debian_11_kprobes),
		cmocka_unit_test(test_debian_11_tracepoints),
		cmocka_unit_test(test_links_only),
		cmocka_unit_test(test_ring_buffers_and_helpers),
		cmocka_unit_test(test_other_types),
		cmocka_unit_test(test_truncates),
		cmocka_unit_test(test_verifier_reason),
		cmocka_unit_test(test_capture),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
