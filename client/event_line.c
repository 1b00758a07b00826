// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * greeterctl tail's human form of an event: one line of aligned columns,
 * every string escaped, the arguments last and cut to fit the terminal.
 */
#include <langinfo.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "args_text.h"
#include "greeterctl.h"

/* Column widths; a longer value pushes the rest of its line, like ls -l. */
#define W_PID 7
/* comm[pid]: most fit; a longer one pushes the rest. */
#define W_PARENT 20
#define W_USER 10
#define W_UNIT 20
#define W_COMM 16
#define W_FILENAME 32
#define W_MESSAGE 20
/* However narrow the terminal, this much of the arguments shows. */
#define W_ARGS_MIN 16

/* A growing string. */
struct text {
	char *s;
	size_t len, size;
	bool failed;
};

static void text_add(struct text *t, const char *s, size_t n)
{
	if (t->failed)
		return;
	if (t->len + n + 1 > t->size) {
		size_t size = t->size ? t->size : 256;
		char *p;

		while (size < t->len + n + 1)
			size *= 2;
		p = realloc(t->s, size);
		if (!p) {
			t->failed = true;
			return;
		}
		t->s = p;
		t->size = size;
	}
	memcpy(t->s + t->len, s, n);
	t->len += n;
	t->s[t->len] = '\0';
}

static void text_adds(struct text *t, const char *s)
{
	text_add(t, s, strlen(s));
}

/* "…" where the terminal shows UTF-8, else "...". */
static const char *cut_mark(void)
{
	static const char *mark;

	if (!mark)
		mark = strcmp(nl_langinfo(CODESET), "UTF-8") ? "..." : "…";
	return mark;
}

int line_width(void)
{
	const char *env = getenv("COLUMNS");
	struct winsize ws;
	char *end;
	long v;

	/* $COLUMNS first, as ps(1) has it; then the terminal; a pipe: no limit. */
	if (env && *env) {
		v = strtol(env, &end, 10);
		if (!*end && v > 0 && v <= 100000)
			return (int)v;
	}
	if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 0;
}

/*
 * Print escaped (hence printable) UTF-8 text in at most width columns: when
 * it is wider, as much as fits before the cut mark, then the mark.
 * width <= 0: whole. Returns the columns printed.
 */
static int print_cut(const char *s, int width)
{
	size_t len = strlen(s), i = 0, fit = 0;
	int total = 0, fit_w = 0, mark_w = cut_mark()[0] == '.' ? 3 : 1;

	while (i < len) {
		total += next_columns(s, len, &i);
		/* The longest prefix that leaves room for the mark. */
		if (total <= width - mark_w) {
			fit = i;
			fit_w = total;
		}
	}
	if (width <= 0 || total <= width) {
		fputs(s, stdout);
		return total;
	}
	fwrite(s, 1, fit, stdout);
	fputs(cut_mark(), stdout);
	return fit_w + mark_w;
}

/* A column cut to width and padded to it. */
static void print_column(const char *s, int width)
{
	char *e = escape_dup(s);

	print_pad(stdout, width - print_cut(e ? e : "?", width));
	free(e);
}

/*
 * One argument, escaped; in double quotes when greeter_arg_needs_quotes(), a '"' inside
 * then written \" (a backslash of the argument is already "\\").
 */
static void add_arg(struct text *t, const char *arg)
{
	char *e = escape_dup(arg);
	bool quote = greeter_arg_needs_quotes(arg);

	if (!e) {
		t->failed = true;
		return;
	}
	if (quote)
		text_adds(t, "\"");
	for (const char *c = e; *c; c++) {
		if (quote && *c == '"')
			text_adds(t, "\\");
		text_add(t, c, 1);
	}
	if (quote)
		text_adds(t, "\"");
	free(e);
}

/* The arguments as one escaped line; "" when the event has none (--no-args, an older greeterd). */
static void args_text(struct text *t, const cJSON *event)
{
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(event, "args"), *a;
	bool first = true;

	text_adds(t, "");
	if (!cJSON_IsArray(args))
		args = NULL;
	cJSON_ArrayForEach (a, args) {
		if (!first)
			text_adds(t, " ");
		first = false;
		/* greeterd is trusted for shape, not for sense. */
		if (cJSON_IsString(a))
			add_arg(t, a->valuestring);
		else
			text_adds(t, "?");
	}
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(event, "args_truncated")))
		text_adds(t, first ? "[truncated]" : " [truncated]");
}

void print_event_header(void)
{
	printf("%-12s %*s %-*s %-*s %-*s %-*s %-*s %-*s %s\n", "TIME", W_PID, "PID", W_PARENT,
	       "PARENT", W_USER, "USER", W_UNIT, "UNIT", W_COMM, "COMM", W_FILENAME, "FILENAME",
	       W_MESSAGE, "MESSAGE", "ARGS");
}

/* Returns the columns printed. */
static int print_time(const cJSON *event)
{
	uint64_t usec;
	struct tm tm;
	time_t secs;
	char buf[32];

	if (!json_uint(cJSON_GetObjectItemCaseSensitive(event, "timestamp_usec"),
		       9007199254740991.0, &usec)) {
		printf("%-12s", "?");
		return 12;
	}
	secs = (time_t)(usec / 1000000);
	if (!localtime_r(&secs, &tm) || !strftime(buf, sizeof(buf), "%H:%M:%S", &tm)) {
		printf("%-12s", "?");
		return 12;
	}
	return printf("%s.%03u", buf, (unsigned)(usec / 1000 % 1000));
}

/*
 * "comm[pid]" of the process that ran the exec (or exited), as parent_comm and
 * parent_pid or comm and pid name it; "-" without a pid. comm is not escaped.
 */
static void name_pid(char *buf, size_t size, const cJSON *event, const char *comm_member,
		     const char *pid_member)
{
	uint64_t pid;

	if (!json_uint(cJSON_GetObjectItemCaseSensitive(event, pid_member), 4294967295.0, &pid))
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%s[%llu]",
			 cJSON_IsString(cJSON_GetObjectItemCaseSensitive(event, comm_member))
				 ? json_str(event, comm_member)
				 : "?",
			 (unsigned long long)pid);
}

/* The escaped width of s as a padded column: its own width or the column's, whichever is more. */
static int column_width(const char *s, int width)
{
	char *e = escape_dup(s);
	int w = e ? display_width(e) : 1;

	free(e);
	return w > width ? w : width;
}

void print_event_line(const cJSON *event, int line_columns)
{
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(event, "error");
	const char *name = NULL, *unit = json_str(event, "unit");
	const char *message = json_str(event, "message");
	char user[16] = "?", failed[96], parent[256];
	struct text args = { 0 };
	int used, room;
	uint64_t v;

	used = print_time(event);
	if (json_uint(cJSON_GetObjectItemCaseSensitive(event, "pid"), 4294967295.0, &v))
		used += printf(" %*llu ", W_PID, (unsigned long long)v);
	else
		used += printf(" %*s ", W_PID, "?");
	/* The parent's own comm may be a lie like any other: escaped. */
	name_pid(parent, sizeof(parent), event, "parent_comm", "parent_pid");
	print_escaped_padded(stdout, parent, W_PARENT);
	fputc(' ', stdout);
	used += column_width(parent, W_PARENT) + 1;
	if (json_uint(cJSON_GetObjectItemCaseSensitive(event, "uid"), 4294967295.0, &v)) {
		name = user_name((uint32_t)v);
		snprintf(user, sizeof(user), "%llu", (unsigned long long)v);
	}
	print_escaped_padded(stdout, name ? name : user, W_USER);
	used += column_width(name ? name : user, W_USER);
	/* No unit (none, or an older greeterd): "-"; a long one (a container's scope) is cut. */
	fputc(' ', stdout);
	print_column(*unit ? unit : "-", W_UNIT);
	fputc(' ', stdout);
	print_escaped_padded(stdout, json_str(event, "comm"), W_COMM);
	fputc(' ', stdout);
	print_escaped_padded(stdout, json_str(event, "filename"), W_FILENAME);
	fputc(' ', stdout);
	used += 1 + W_UNIT + 1 + column_width(json_str(event, "comm"), W_COMM) + 1 +
		column_width(json_str(event, "filename"), W_FILENAME) + 1;
	if (cJSON_IsNumber(error) && error->valuedouble < 0 && error->valuedouble > -4096) {
		snprintf(failed, sizeof(failed), "(exec failed: %s)",
			 strerror((int)-error->valuedouble));
		message = failed;
	}
	args_text(&args, event);
	if (args.failed || !args.s || !*args.s) {
		/* Nothing after the message: no padding at the end of the line. */
		print_escaped(stdout, message);
	} else {
		print_escaped_padded(stdout, message, W_MESSAGE);
		fputc(' ', stdout);
		used += column_width(message, W_MESSAGE) + 1;
		room = line_columns - used;
		if (room < W_ARGS_MIN)
			room = W_ARGS_MIN;
		print_cut(args.s, line_columns > 0 ? room : 0);
	}
	free(args.s);
	fputc('\n', stdout);
}

void print_exit_line(const cJSON *event)
{
	char who[256], after[64];
	uint64_t v;

	print_time(event);
	fputs(" exit  ", stdout);
	name_pid(who, sizeof(who), event, "comm", "pid");
	print_escaped(stdout, who);
	if (json_uint(cJSON_GetObjectItemCaseSensitive(event, "exit_code"), 255.0, &v)) {
		printf(" status=%llu", (unsigned long long)v);
	} else if (json_uint(cJSON_GetObjectItemCaseSensitive(event, "signal"), 127.0, &v)) {
		printf(" killed by signal %llu", (unsigned long long)v);
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(event, "core_dumped")))
			fputs(" (core dumped)", stdout);
	} else {
		fputs(" status=?", stdout);
	}
	if (json_uint(cJSON_GetObjectItemCaseSensitive(event, "duration_usec"), 9007199254740991.0,
		      &v)) {
		format_duration(after, sizeof(after), (unsigned long long)v);
		printf(" after %s", after);
	}
	fputc('\n', stdout);
}
