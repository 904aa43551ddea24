// SPDX-License-Identifier: GPL-2.0
/*
 * map_exclusive_kdump: what a crash dump keeps of exclusive memory.
 *
 * The documentation says: a crash dump reads physical memory, so a full
 * dump holds exclusive pages like any other, and makedumpfile, which
 * tells user pages from kernel pages by page->mapping, drops mapped
 * exclusive pages at any dump level that excludes user data (bit 8, as in
 * the common -d 31) although they are not on the LRU.  This test checks
 * both sentences on a real crash, in two kernels of one guest boot:
 *
 * Phase 1 (no /proc/vmcore): load this kernel as the capture kernel
 * (kexec -p, image from $ASI_KERNEL_IMAGE, the boot needs crashkernel=),
 * with the same command line, so that virtme-ng's init in the capture
 * kernel runs the same test script again, and a random seed on it.  Fill
 * one MAP_EXCLUSIVE page and one ordinary anonymous page (the control)
 * with 4 KiB patterns generated from the seed straight into the page, so
 * that each pattern exists nowhere else in memory, and crash the kernel
 * (sysrq c).
 *
 * Phase 2 (capture kernel, /proc/vmcore exists): search the raw dump for
 * both patterns; run makedumpfile at -d 23 (user data kept: both present)
 * and at -d 31 (user data dropped: both absent), in makedumpfile's own
 * format without compression (pages stored whole: the ELF format keeps
 * runs of fewer than 256 excluded pages and so is not exact), into a
 * tmpfs of the capture kernel.  KTAP, one case per check.
 *
 * SKIP (exit 4) when kexec or makedumpfile is missing, nothing is
 * reserved for a crash kernel, or exclusive memory is not available.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MAP_EXCLUSIVE
#define MAP_EXCLUSIVE	0x200000
#endif

#define PAGE		4096UL
#define SEED_PARAM	"map_exclusive_kdump.seed="
#define KSFT_SKIP	4
/* A tmpfs of its own in the capture kernel, for one filtered dump. */
#define DUMP_DIR	"/run/map_exclusive_kdump"

enum { EXCL, ANON, NR_PATTERNS };
static const char *const pattern_name[NR_PATTERNS] = { "exclusive", "anonymous" };

static int failed;

static void result(bool ok, const char *fmt, ...)
{
	static int n;
	va_list ap;

	printf("%s %d ", ok ? "ok" : "not ok", ++n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	failed |= !ok;
}

static void skip_all(const char *why)
{
	printf("1..0 # SKIP %s\n", why);
	exit(KSFT_SKIP);
}

/* xorshift64 from a seed, written 8 bytes at a time into p. */
static void fill(uint64_t *p, uint64_t seed, int which)
{
	uint64_t s = seed ^ (which == EXCL ? 0x0123456789abcdefULL : 0xa5a5a5a55a5a5a5aULL);
	unsigned long i;

	if (!s)
		s = 1;
	for (i = 0; i < PAGE / 8; i++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		p[i] = s;
	}
}

static char *read_file(const char *path)
{
	static char buf[4096];
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

/* Whether prog is in PATH (or in /sbin or /usr/sbin). */
static bool have(const char *prog)
{
	const char *dirs[] = { "/usr/sbin", "/sbin", "/usr/bin", "/bin" };
	char path[256];
	unsigned int i;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dirs[i], prog);
		if (!access(path, X_OK))
			return true;
	}
	return false;
}

/* Run argv, its output prefixed with "# "; its exit status, or -1. */
static int run(char *const argv[])
{
	char line[512];
	int pipefd[2], status;
	FILE *out;
	pid_t pid;

	fflush(stdout);
	if (pipe(pipefd))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		dup2(pipefd[1], 1);
		dup2(pipefd[1], 2);
		close(pipefd[0]);
		setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin", 1);
		execvp(argv[0], argv);
		fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(pipefd[1]);
	out = fdopen(pipefd[0], "r");
	/* makedumpfile draws progress bars with \r: keep the last state. */
	while (out && fgets(line, sizeof(line), out)) {
		char *last = strrchr(line, '\r');

		if (last && last[1] && last[1] != '\n')
			memmove(line, last + 1, strlen(last + 1) + 1);
		printf("# %s%s", line, strchr(line, '\n') ? "" : "\n");
	}
	if (out)
		fclose(out);
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/*
 * Phase 1: load the capture kernel, write the patterns, crash.  Returns
 * only on failure.
 */
static int phase1(void)
{
	const char *image = getenv("ASI_KERNEL_IMAGE");
	char *cmdline, *word, *save, *text, *append;
	unsigned long long crash_size;
	uint64_t seed, *excl, *anon;
	size_t len;
	int fd;

	text = read_file("/sys/kernel/kexec_crash_size");
	crash_size = text ? strtoull(text, NULL, 10) : 0;
	if (!crash_size)
		skip_all("nothing reserved for a crash kernel (boot with crashkernel=)");
	if (!have("kexec") || !have("makedumpfile"))
		skip_all("kexec or makedumpfile missing (asi-tool setup installs kexec-tools and makedumpfile)");
	if (!image || access(image, R_OK))
		skip_all("no kernel image to load: $ASI_KERNEL_IMAGE is not set or not readable");
	excl = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_EXCLUSIVE | MAP_POPULATE, -1, 0);
	if (excl == MAP_FAILED)
		skip_all("no exclusive memory (MAP_EXCLUSIVE needs asi=on)");
	anon = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (anon == MAP_FAILED) {
		printf("# mmap: %s\n", strerror(errno));
		return 1;
	}
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed)) {
		printf("# getrandom: %s\n", strerror(errno));
		return 1;
	}

	/*
	 * The capture kernel's command line: this one without crashkernel=,
	 * with the usual capture parameters first and the seed.  virtme-ng
	 * passes its init, root file system and command on it, so the capture
	 * kernel runs this test again.
	 */
	cmdline = read_file("/proc/cmdline");
	if (!cmdline) {
		printf("# cannot read /proc/cmdline\n");
		return 1;
	}
	len = strlen(cmdline) + 128;
	append = malloc(len);
	if (!append)
		return 1;
	snprintf(append, len, "--append=nr_cpus=1 maxcpus=1 irqpoll reset_devices %s%016llx",
		 SEED_PARAM, (unsigned long long)seed);
	for (word = strtok_r(cmdline, " ", &save); word; word = strtok_r(NULL, " ", &save)) {
		if (strncmp(word, "crashkernel=", 12)) {
			strcat(append, " ");
			strcat(append, word);
		}
	}
	printf("# phase 1: kexec -p %s (%llu MiB reserved for it)\n", image, crash_size >> 20);
	if (run((char *const[]){ "kexec", "-p", (char *)image, append, NULL })) {
		printf("# kexec -p failed\n");
		return 1;
	}
	text = read_file("/sys/kernel/kexec_crash_loaded");
	if (!text || strcmp(text, "1")) {
		printf("# kexec_crash_loaded is not 1 after kexec -p\n");
		return 1;
	}

	fill(excl, seed, EXCL);
	fill(anon, seed, ANON);
	printf("# phase 1: patterns written, crashing (seed %016llx)\n",
	       (unsigned long long)seed);
	fflush(stdout);
	sync();
	fd = open("/proc/sysrq-trigger", O_WRONLY);
	if (fd < 0 || write(fd, "c", 1) != 1)
		printf("# sysrq c: %s\n", strerror(errno));
	printf("# the kernel did not crash\n");
	return 1;
}

/* How many times each pattern occurs in path (unaligned: any offset). */
static int count_patterns(const char *path, uint64_t seed, long count[NR_PATTERNS])
{
	static uint64_t pattern[NR_PATTERNS][PAGE / 8];
	const size_t chunk = 4UL << 20;
	size_t keep = 0, len;
	off_t base = 0;
	char *buf;
	ssize_t n;
	int fd, w;

	for (w = 0; w < NR_PATTERNS; w++) {
		fill(pattern[w], seed, w);
		count[w] = 0;
	}
	fd = open(path, O_RDONLY);
	buf = malloc(chunk + PAGE);
	if (fd < 0 || !buf) {
		printf("# open %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (;;) {
		n = pread(fd, buf + keep, chunk, base + keep);
		if (n < 0) {
			printf("# read %s: %s\n", path, strerror(errno));
			break;
		}
		len = keep + n;
		for (w = 0; w < NR_PATTERNS; w++) {
			char *p = buf, *end = buf + len, *hit;

			while ((hit = memmem(p, end - p, pattern[w], PAGE))) {
				count[w]++;
				p = hit + PAGE;
			}
		}
		if (!n)
			break;
		/* Carry PAGE - 1 bytes over, for a pattern across chunks. */
		keep = len < PAGE - 1 ? len : PAGE - 1;
		memmove(buf, buf + len - keep, keep);
		base += len - keep;
	}
	free(buf);
	close(fd);
	return n < 0 ? -1 : 0;
}

/* One KTAP case per pattern: present in path, or absent. */
static void check(const char *path, const char *what, uint64_t seed, bool present)
{
	long count[NR_PATTERNS];
	int w;

	if (count_patterns(path, seed, count)) {
		for (w = 0; w < NR_PATTERNS; w++)
			result(false, "%s_%s_%s", what, pattern_name[w],
			       present ? "present" : "absent");
		return;
	}
	for (w = 0; w < NR_PATTERNS; w++) {
		printf("# %s: %s page found %ld time(s)\n", what, pattern_name[w], count[w]);
		result(present ? count[w] > 0 : count[w] == 0, "%s_%s_%s", what,
		       pattern_name[w], present ? "present" : "absent");
	}
}

/* makedumpfile at level into DUMP_DIR, then check its output. */
static void dump_and_check(uint64_t seed, int level, bool present)
{
	char out[64], lvl[8], what[16];
	struct statvfs st;
	int rc;

	snprintf(out, sizeof(out), DUMP_DIR "/vmcore-d%d", level);
	snprintf(lvl, sizeof(lvl), "%d", level);
	snprintf(what, sizeof(what), "dump_d%d", level);
	unlink(out);
	if (!statvfs(DUMP_DIR, &st))
		printf("# %s: %llu MiB free\n", DUMP_DIR,
		       (unsigned long long)st.f_bavail * st.f_frsize >> 20);
	rc = run((char *const[]){ "makedumpfile", "--message-level", "7", "-d", lvl,
				  "/proc/vmcore", out, NULL });
	if (rc) {
		printf("# makedumpfile -d %d exited %d\n", level, rc);
		result(false, "%s_%s_%s", what, pattern_name[EXCL],
		       present ? "present" : "absent");
		result(false, "%s_%s_%s", what, pattern_name[ANON],
		       present ? "present" : "absent");
	} else {
		check(out, what, seed, present);
	}
	unlink(out);
}

static int phase2(void)
{
	char *cmdline = read_file("/proc/cmdline"), *p;
	uint64_t seed;

	printf("1..6\n");
	p = cmdline ? strstr(cmdline, SEED_PARAM) : NULL;
	if (!p) {
		printf("Bail out! the capture kernel has no " SEED_PARAM " on its command line\n");
		return 1;
	}
	seed = strtoull(p + strlen(SEED_PARAM), NULL, 16);
	printf("# phase 2: capture kernel, seed %016llx\n", (unsigned long long)seed);
	if ((mkdir(DUMP_DIR, 0700) && errno != EEXIST) ||
	    mount("tmpfs", DUMP_DIR, "tmpfs", 0, "size=192m,mode=0700"))
		printf("# cannot mount a tmpfs on " DUMP_DIR ": %s\n", strerror(errno));

	/* A full dump holds both pages: the direct map does not matter. */
	check("/proc/vmcore", "vmcore", seed, true);
	/* Without the user-data bit, anonymous pages stay... */
	dump_and_check(seed, 23, true);
	/* ...with it, both go, although exclusive pages are not on the LRU. */
	dump_and_check(seed, 31, false);
	return failed;
}

int main(void)
{
	if (!access("/proc/vmcore", F_OK))
		return phase2();
	return phase1();
}
