// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * greeterctl -H [USER@]HOST[:PORT], as systemctl -H: the connection to
 * greeterd runs over ssh, to "greeterctl stdio-bridge" on HOST. ssh gets one
 * end of a socketpair as its standard input and output, the client keeps the
 * other and speaks varlink on it as on greeterd's own socket. When the
 * connection ends early, ssh's exit status says why.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "greeterctl.h"
#include "varlink_client.h"

/* What ssh's exit status means when it says nothing of the remote command's. */
#define SSH_FAILED 255
/* The remote shell's: no such command, or not executable. */
#define SHELL_NOT_FOUND 127
#define SHELL_NOT_EXECUTABLE 126

/* How long ssh may take to end by itself once its connection is closed. */
#define SSH_END_GRACE_MS 2000
/* ... and once its output has ended (it is exiting then). */
#define SSH_EXIT_WAIT_MS 10000

static struct {
	char *user, *host, *port; /* the parts of -H; user and port may be NULL */
	char *shown; /* -H as given, escaped: for messages */
	char *parts; /* the copy of -H that user, host and port point into */
	pid_t pid; /* the ssh running now, 0 when none */
} ssh;

static bool bad_char(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return true;
	return false;
}

int ctl_ssh_set_host(const char *arg)
{
	char *copy = strdup(arg), *at, *rest, *colon;

	ssh.shown = escape_dup(arg);
	if (!copy || !ssh.shown) {
		free(copy);
		return out_of_memory();
	}
	ssh.parts = copy;
	rest = copy;
	at = strrchr(copy, '@');
	if (at) {
		*at = '\0';
		ssh.user = copy;
		rest = at + 1;
		if (!*ssh.user || *ssh.user == '-' || bad_char(ssh.user))
			goto bad;
	}
	if (*rest == '[') {
		/* [ADDRESS] or [ADDRESS]:PORT: an IPv6 address with a port. */
		char *end = strchr(rest, ']');

		if (!end || (end[1] && end[1] != ':'))
			goto bad;
		*end = '\0';
		ssh.host = rest + 1;
		if (end[1])
			ssh.port = end + 2;
	} else {
		colon = strchr(rest, ':');
		ssh.host = rest;
		/* More than one ':': an IPv6 address without a port. */
		if (colon && !strchr(colon + 1, ':')) {
			*colon = '\0';
			ssh.port = colon + 1;
		}
	}
	if (!*ssh.host || *ssh.host == '-' || bad_char(ssh.host))
		goto bad;
	if (ssh.port) {
		char *end;
		unsigned long v;

		errno = 0;
		v = strtoul(ssh.port, &end, 10);
		if (*ssh.port < '0' || *ssh.port > '9' || *end || errno || v < 1 || v > 65535) {
			fprintf(stderr,
				"greeterctl: --host %s: the port must be a number from 1 to 65535\n"
				"Try 'greeterctl --help'.\n",
				ssh.shown);
			return EXIT_USAGE;
		}
	}
	return 0;
bad:
	fprintf(stderr,
		"greeterctl: --host takes [USER@]HOST[:PORT] (an IPv6 address with a port in "
		"brackets: [ADDRESS]:PORT), not '%s'\nTry 'greeterctl --help'.\n",
		ssh.shown);
	return EXIT_USAGE;
}

const char *ctl_ssh_host_shown(void)
{
	return ssh.shown ? ssh.shown : "?";
}

/* The program to run as ssh: $GREETER_SSH, else ssh on the PATH. */
static const char *ssh_program(void)
{
	const char *e = getenv("GREETER_SSH");

	return e && *e ? e : "ssh";
}

/* path in single quotes for the remote shell, which runs the command ssh sends. */
static char *shell_quoted(const char *prefix, const char *s)
{
	size_t n = strlen(prefix) + 3;
	char *out, *p;

	for (const char *c = s; *c; c++)
		n += *c == '\'' ? 4 : 1;
	out = malloc(n);
	if (!out)
		return NULL;
	p = stpcpy(out, prefix);
	*p++ = '\'';
	for (; *s; s++) {
		if (*s == '\'')
			p = stpcpy(p, "'\\''");
		else
			*p++ = *s;
	}
	*p++ = '\'';
	*p = '\0';
	return out;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reap ssh within timeout_ms: true with *status, false when it still runs. */
static bool wait_ssh(int timeout_ms, int *status)
{
	int64_t deadline = now_ms() + timeout_ms;
	struct timespec tick = { .tv_nsec = 10 * 1000000 };

	for (;;) {
		pid_t r = waitpid(ssh.pid, status, WNOHANG);

		if (r == ssh.pid || (r < 0 && errno == ECHILD)) {
			if (r < 0)
				*status = 0;
			ssh.pid = 0;
			return true;
		}
		if (now_ms() >= deadline)
			return false;
		nanosleep(&tick, NULL);
	}
}

/* End ssh for good (SIGTERM, then SIGKILL); its wait status, or -1 when none ran. */
static int end_ssh(int grace_ms)
{
	int status = -1;

	if (!ssh.pid)
		return -1;
	if (wait_ssh(grace_ms, &status))
		return status;
	kill(ssh.pid, SIGTERM);
	if (wait_ssh(5000, &status))
		return status;
	kill(ssh.pid, SIGKILL);
	wait_ssh(60000, &status);
	return status;
}

void ctl_ssh_end(bool wait)
{
	end_ssh(wait ? SSH_END_GRACE_MS : 0);
}

/* Start ssh on one end of a socketpair: the other end, or -errno after saying why. */
static int spawn_ssh(const struct ctl_options *o, bool quiet)
{
	const char *argv[16], *program = ssh_program();
	char *socket_arg = NULL;
	int sv[2], err_pipe[2], n = 0, child_errno = 0;
	ssize_t got;
	pid_t pid;

	argv[n++] = program;
	/* No X11, no terminal (a byte stream), no escape character (every byte passes). */
	argv[n++] = "-xT";
	argv[n++] = "-e";
	argv[n++] = "none";
	if (ssh.port) {
		argv[n++] = "-p";
		argv[n++] = ssh.port;
	}
	if (ssh.user) {
		argv[n++] = "-l";
		argv[n++] = ssh.user;
	}
	argv[n++] = "--";
	argv[n++] = ssh.host;
	argv[n++] = "greeterctl";
	argv[n++] = "stdio-bridge";
	if (o->socket_given) {
		socket_arg = shell_quoted("--socket=", o->socket_path);
		if (!socket_arg)
			return -ENOMEM;
		argv[n++] = socket_arg;
	}
	argv[n] = NULL;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		free(socket_arg);
		return -errno;
	}
	if (pipe2(err_pipe, O_CLOEXEC) < 0) {
		int r = -errno;

		close(sv[0]);
		close(sv[1]);
		free(socket_arg);
		return r;
	}
	pid = fork();
	if (pid < 0) {
		int r = -errno;

		close(sv[0]);
		close(sv[1]);
		close(err_pipe[0]);
		close(err_pipe[1]);
		free(socket_arg);
		return r;
	}
	if (pid == 0) {
		int e;

		/* greeterctl ignores SIGPIPE; ssh gets the default back. */
		signal(SIGPIPE, SIG_DFL);
		if (dup2(sv[1], STDIN_FILENO) < 0 || dup2(sv[1], STDOUT_FILENO) < 0)
			_exit(SSH_FAILED);
		/* dup2() onto itself (greeterctl started without 0 or 1) keeps close-on-exec. */
		fcntl(STDIN_FILENO, F_SETFD, 0);
		fcntl(STDOUT_FILENO, F_SETFD, 0);
		if (quiet) {
			int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

			if (null >= 0)
				dup2(null, STDERR_FILENO);
		}
		execvp(program, (char *const *)argv);
		e = errno;
		(void)!write(err_pipe[1], &e, sizeof(e));
		_exit(SHELL_NOT_FOUND);
	}
	free(socket_arg);
	close(sv[1]);
	close(err_pipe[1]);
	ssh.pid = pid;
	/* Closed by the exec: ssh runs; else the child's errno. */
	do
		got = read(err_pipe[0], &child_errno, sizeof(child_errno));
	while (got < 0 && errno == EINTR);
	close(err_pipe[0]);
	if (got == sizeof(child_errno)) {
		end_ssh(60000);
		close(sv[0]);
		if (!quiet) {
			fputs("greeterctl: cannot run ", stderr);
			print_escaped(stderr, program);
			fprintf(stderr,
				" for --host: %s (install openssh-client, or name the ssh to run in "
				"$GREETER_SSH)\n",
				strerror(child_errno));
		}
		return -ECHILD;
	}
	return sv[0];
}

/* "ssh -p PORT -l USER HOST", for a message: what the user may try by hand. */
static void print_ssh_command(void)
{
	fputs("ssh", stderr);
	if (ssh.port)
		fprintf(stderr, " -p %s", ssh.port);
	if (ssh.user) {
		fputs(" -l ", stderr);
		print_escaped(stderr, ssh.user);
	}
	fputc(' ', stderr);
	print_escaped(stderr, ssh.host);
}

/*
 * Say why the connection ended, from ssh's wait status: "greeterctl: " and,
 * when the connection was made (connected), "<what>: " first.
 */
static void explain_ssh_status(const char *what, int status, bool connected)
{
	const char *host = ctl_ssh_host_shown();
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;

	fputs("greeterctl: ", stderr);
	if (connected)
		fprintf(stderr, "%s: ", what);
	if (code == SSH_FAILED) {
		fprintf(stderr,
			"cannot reach greeterd on %s: ssh failed (exit status 255; its message is "
			"above). Check that '",
			host);
		print_ssh_command();
		fputs(" greeterctl --version' works from here.\n", stderr);
	} else if (code == SHELL_NOT_FOUND || code == SHELL_NOT_EXECUTABLE) {
		fprintf(stderr,
			"cannot reach greeterd on %s: the login shell there cannot run greeterctl "
			"(exit status %d). Install greeter on %s, with greeterctl on the PATH of "
			"the login user's shell.\n",
			host, code, host);
	} else if (code == EXIT_USAGE && !connected) {
		fprintf(stderr,
			"cannot reach greeterd on %s: its greeterctl refused 'stdio-bridge' (exit "
			"status 2; its message is above): install greeter %s or newer there.\n",
			host, GREETER_VERSION);
	} else if (code == EXIT_NOT_RUNNING) {
		fprintf(stderr, "cannot reach greeterd on %s (the message from %s is above)\n",
			host, host);
	} else {
		char why[64] = "";

		if (code > 0)
			snprintf(why, sizeof(why), " (ssh exited with status %d)", code);
		else if (WIFSIGNALED(status))
			snprintf(why, sizeof(why), " (ssh was killed by signal %d)", WTERMSIG(status));
		if (connected)
			fprintf(stderr, "the connection to greeterd on %s was lost%s\n", host, why);
		else
			fprintf(stderr, "cannot reach greeterd on %s: the connection ended before "
					"greeterd answered%s\n",
				host, why);
	}
}

static bool is_lost(int r)
{
	return r == -ECONNRESET || r == -EPIPE || r == -ENOTCONN;
}

/* The connection failed with r: say why, end ssh. Returns the exit status. */
static int lost(const char *what, int r, bool connected, bool quiet)
{
	int status;

	/* Interrupted (tail's SIGINT or SIGTERM): nothing went wrong. */
	if (r == -EINTR) {
		ctl_ssh_end(false);
		return EXIT_NOT_RUNNING;
	}
	if (!is_lost(r)) {
		ctl_ssh_end(false);
		return quiet ? EXIT_NOT_RUNNING : ctl_transport_error(what, r);
	}
	/* Its output ended: ssh is exiting, and its status says why. */
	status = end_ssh(SSH_EXIT_WAIT_MS);
	if (!quiet)
		explain_ssh_status(what, status < 0 ? 0 : status, connected);
	return EXIT_NOT_RUNNING;
}

int ctl_ssh_lost(const char *what, int r)
{
	return lost(what, r, true, false);
}

int ctl_ssh_connect(const struct ctl_options *o, bool quiet, struct varlink_client **c)
{
	cJSON *reply = NULL;
	char *error = NULL;
	bool continues;
	int fd, r;

	*c = NULL;
	ctl_ssh_end(false);
	fd = spawn_ssh(o, quiet);
	if (fd < 0) {
		if (fd != -ECHILD && !quiet)
			fprintf(stderr, "greeterctl: cannot start ssh for --host: %s\n",
				strerror(-fd));
		return EXIT_NOT_RUNNING;
	}
	r = varlink_client_new_fd(c, fd);
	if (r < 0) {
		ctl_ssh_end(false);
		return out_of_memory();
	}
	/*
	 * A first call, answered once ssh has logged in and the bridge has
	 * reached greeterd: however long a password or a host key question
	 * takes, the command's own call then gets its usual time.
	 */
	r = varlink_client_call(*c, "org.varlink.service.GetInfo", NULL, 0);
	if (r >= 0)
		r = varlink_client_read_reply(*c, -1, &reply, &error, &continues);
	if (r < 0) {
		varlink_client_free(*c);
		*c = NULL;
		return lost("cannot connect", r, false, quiet);
	}
	/* greeterd refused the connection (too many): the reason is the answer. */
	if (error && !strcmp(error, "io.greeter.TooManyConnections")) {
		char what[96];

		snprintf(what, sizeof(what), "cannot connect to greeterd on %s",
			 ctl_ssh_host_shown());
		if (!quiet)
			print_daemon_error(what, error, reply);
		cJSON_Delete(reply);
		free(error);
		varlink_client_free(*c);
		*c = NULL;
		ctl_ssh_end(false);
		return EXIT_DAEMON;
	}
	/* Any other answer, an error too, is a server at the other end. */
	cJSON_Delete(reply);
	free(error);
	return 0;
}
