// SPDX-License-Identifier: GPL-2.0
/*
 * mxexec: run a command with all of its private memory out of the kernel
 * direct map (PR_SET_MEMORY_EXCLUSIVE), for use as a container's init
 * wrapper.  The mode is inherited by everything the command forks and
 * execs, and cannot be turned off.
 *
 *   mxexec [--memlock unlimited|BYTES] [--] COMMAND [ARG...]
 *
 * A container's whole private memory is charged to RLIMIT_MEMLOCK in
 * the mode, so --memlock sets that limit (soft and hard) first; without
 * it the soft limit is raised to the hard one.  The memory cgroup is the
 * real bound: exclusive pages are charged to it and never swapped.
 *
 * Without CAP_SYS_ADMIN in its user namespace, mxexec sets no_new_privs
 * (which the kernel requires then, as for seccomp) and says so.
 *
 * Exit status: that of COMMAND, or 125 if mxexec itself failed, 126 if
 * COMMAND could not be executed, 127 if it was not found (as env(1)).
 *
 * Build: gcc -static -O2 -o mxexec mxexec.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#ifndef PR_SET_MEMORY_EXCLUSIVE
#define PR_SET_MEMORY_EXCLUSIVE		0x4d584501
#define PR_GET_MEMORY_EXCLUSIVE		0x4d584502
#define PR_MEMORY_EXCLUSIVE_ANON	(1UL << 0)
#endif

#define EXIT_FAILED	125

static void usage(FILE *f)
{
	fprintf(f, "usage: mxexec [--memlock unlimited|BYTES] [--] COMMAND [ARG...]\n"
		   "Runs COMMAND with its private memory out of the kernel direct map\n"
		   "(PR_SET_MEMORY_EXCLUSIVE), inherited by all its descendants.\n");
}

static int set_memlock(const char *arg)
{
	struct rlimit rl;
	char *end;

	if (getrlimit(RLIMIT_MEMLOCK, &rl))
		return -1;
	if (!arg) {
		rl.rlim_cur = rl.rlim_max;
	} else if (!strcmp(arg, "unlimited")) {
		rl.rlim_cur = rl.rlim_max = RLIM_INFINITY;
	} else {
		errno = 0;
		rl.rlim_cur = strtoull(arg, &end, 10);
		if (errno || *end || end == arg) {
			fprintf(stderr, "mxexec: --memlock %s: want a number of bytes or \"unlimited\"\n",
				arg);
			exit(EXIT_FAILED);
		}
		rl.rlim_max = rl.rlim_cur;
	}
	return setrlimit(RLIMIT_MEMLOCK, &rl);
}

/* 0, or the errno of PR_SET_MEMORY_EXCLUSIVE. */
static int set_mode(void)
{
	if (prctl(PR_SET_MEMORY_EXCLUSIVE, PR_MEMORY_EXCLUSIVE_ANON, 0, 0, 0))
		return errno;
	return 0;
}

int main(int argc, char **argv)
{
	const char *memlock = NULL;
	int i = 1, err;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--")) {
			i++;
			break;
		} else if (!strcmp(argv[i], "--memlock") && i + 1 < argc) {
			memlock = argv[++i];
		} else if (!strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return EXIT_FAILED;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_FAILED;
	}

	if (set_memlock(memlock)) {
		fprintf(stderr, "mxexec: RLIMIT_MEMLOCK %s: %s (raising the hard limit needs CAP_SYS_RESOURCE)\n",
			memlock ? memlock : "to the hard limit", strerror(errno));
		return EXIT_FAILED;
	}

	err = set_mode();
	if (err == EACCES) {
		fprintf(stderr, "mxexec: not privileged: setting no_new_privs\n");
		err = prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ? errno : set_mode();
	}
	/* Never run the command without the mode it was asked for. */
	if (err) {
		fprintf(stderr, "mxexec: PR_SET_MEMORY_EXCLUSIVE: %s%s\n", strerror(err),
			err == EINVAL ? " (this kernel has no exclusive memory mode)" :
			err == EOPNOTSUPP ? " (exclusive memory is off: boot with asi=on)" :
			"");
		return EXIT_FAILED;
	}

	execvp(argv[i], argv + i);
	fprintf(stderr, "mxexec: %s: %s\n", argv[i], strerror(errno));
	return errno == ENOENT ? 127 : 126;
}
