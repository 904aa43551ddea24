// SPDX-License-Identifier: GPL-2.0
/*
 * exclusive_mode_bench: what the exclusive memory mode
 * (PR_SET_MEMORY_EXCLUSIVE) costs real programs, measured in one boot:
 * every measurement runs the same thing with and without the mode, in
 * alternating rounds, so the ratios compare like with like.
 *
 * 1. Real workloads, each an unmodified program started by fork + exec
 *    (the child enters the mode before the exec): sort(1) of a generated
 *    file, a python3 script that builds and hashes a large dict, and gcc
 *    compiling a generated C file.  Wall time and minor faults
 *    (getrusage of the child) are medians over the rounds.
 * 2. Page-fault cost: ns per 4 KiB page to fault in and write a fresh
 *    anonymous region, in one thread and in two threads faulting at the
 *    same time (the pool's lock is global: this is its contention), and
 *    the copy-on-write fault of a forked child writing the region.
 * 3. The pool under churn: a loop of mmap(MAP_EXCLUSIVE, 64 KiB), touch,
 *    munmap() with map_exclusive.drain_delay_ms set to 0 (an empty block
 *    goes back to the direct map at once) and to its default (it stays
 *    a while for reuse): ns per iteration (each sleeps 1 ms after the
 *    munmap(), as a program does other work) and 2 MiB blocks carved
 *    (/sys/kernel/mm/asi/exclusive_carved) per 1000 iterations.
 * 4. The direct map: direct_map_level2_splits in /proc/vmstat over the
 *    whole run (must stay 0: the pool changes 2 MiB leaves in place) and
 *    the pool's blocks and pages at the end (must return to 0).
 *
 * Output: a summary, then one JSON document between the lines
 * "ASI-BENCH-JSON-BEGIN" and "ASI-BENCH-JSON-END", which asi-tool bench
 * turns into a report.  Exit 0, 4 (KSFT_SKIP) if the kernel has no
 * exclusive mode, 1 on an unexpected error.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef PR_SET_MEMORY_EXCLUSIVE
#define PR_SET_MEMORY_EXCLUSIVE		0x4d584501
#define PR_GET_MEMORY_EXCLUSIVE		0x4d584502
#define PR_MEMORY_EXCLUSIVE_ANON	(1UL << 0)
#endif

#define KSFT_SKIP	4
#define ROUNDS		5
#define FAULT_MIB	64
#define SORT_LINES	300000
#define DATA		"/tmp/exclusive_mode_bench"

static size_t page_size;

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "exclusive_mode_bench: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static long read_key(const char *path, const char *key)
{
	char name[128];
	long val;
	FILE *f;

	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fscanf(f, "%127s %ld", name, &val) == 2)
		if (!strcmp(name, key)) {
			fclose(f);
			return val;
		}
	fclose(f);
	return -1;
}

static long read_long(const char *path)
{
	long v = -1;
	FILE *f = fopen(path, "r");

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static void enter_mode(void)
{
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };

	setrlimit(RLIMIT_MEMLOCK, &rl);
	if (prctl(PR_SET_MEMORY_EXCLUSIVE, PR_MEMORY_EXCLUSIVE_ANON, 0, 0, 0))
		die("PR_SET_MEMORY_EXCLUSIVE: %s", strerror(errno));
}

/* ---- 1. real workloads ---- */

struct workload {
	const char *name;
	const char *cmd;		/* run with /bin/sh -c */
	double secs[2][ROUNDS];
	double minflt[2][ROUNDS];
	bool ok;
};

static struct workload workloads[] = {
	{ "sort", "sort -S 64M " DATA ".txt | md5sum" },
	{ "python3", "python3 -c 'import hashlib; d = {i: str(i) * 4 for i in "
		     "range(400000)}; print(hashlib.sha256(repr(sorted(d.items()))"
		     ".encode()).hexdigest())'" },
	{ "gcc", "gcc -O2 -c -o " DATA ".o " DATA ".c" },
};

#define NR_WORKLOADS	(sizeof(workloads) / sizeof(workloads[0]))

/* Run cmd once, in the mode or not: wall seconds and the child's faults. */
static int run_once(const char *cmd, bool mode, double *secs, double *minflt)
{
	struct rusage ru;
	int status, devnull;
	double t0 = now();
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, 1);
		if (mode)
			enter_mode();
		execl("/bin/sh", "sh", "-c", cmd, NULL);
		_exit(127);
	}
	if (wait4(pid, &status, 0, &ru) != pid)
		return -1;
	*secs = now() - t0;
	*minflt = ru.ru_minflt;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static void make_inputs(void)
{
	FILE *f = fopen(DATA ".txt", "w");
	unsigned long x = 88172645463325252UL;
	int i;

	if (!f)
		die("cannot write " DATA ".txt: %s", strerror(errno));
	for (i = 0; i < SORT_LINES; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		fprintf(f, "%016lx line %d\n", x, i);
	}
	fclose(f);

	f = fopen(DATA ".c", "w");
	if (!f)
		die("cannot write " DATA ".c: %s", strerror(errno));
	for (i = 0; i < 300; i++)
		fprintf(f, "int f%d(int *a, int n) { int s = 0; for (int i = 0; i < n; i++)"
			   " s += a[i] * %d ^ (s >> 3); return s; }\n", i, i);
	fclose(f);
}

static void run_workloads(void)
{
	for (size_t w = 0; w < NR_WORKLOADS; w++) {
		struct workload *wl = &workloads[w];
		double s, m;

		/* Warm the page cache, and skip what this guest lacks. */
		wl->ok = run_once(wl->cmd, false, &s, &m) == 0;
		if (!wl->ok) {
			printf("workload %s: not available here, skipped\n", wl->name);
			continue;
		}
		for (int r = 0; r < ROUNDS && wl->ok; r++)
			for (int i = 0; i < 2; i++) {
				int mode = (r + i) % 2;	/* alternate who goes first */

				if (run_once(wl->cmd, mode, &wl->secs[mode][r],
					     &wl->minflt[mode][r]))
					die("workload %s failed (mode %d)", wl->name, mode);
			}
	}
}

/* ---- 3. the pool under churn ---- */

#ifndef MAP_EXCLUSIVE
#define MAP_EXCLUSIVE	0x200000
#endif
#define DELAY_PARAM	"/sys/module/map_exclusive/parameters/drain_delay_ms"
#define CARVED		"/sys/kernel/mm/asi/exclusive_carved"
#define CHURN_ITERS	2000

static bool write_long(const char *path, long v)
{
	FILE *f = fopen(path, "w");
	bool ok;

	if (!f)
		return false;
	ok = fprintf(f, "%ld\n", v) > 0;
	return fclose(f) == 0 && ok;
}

struct churn {
	long delay_ms;
	double ns_per_iter;
	double carved_per_1000;
};

/* One churn run with the given drain delay; false if the knob is missing. */
static bool churn(long delay_ms, struct churn *c)
{
	size_t len = 64 << 10;
	long carved;
	double t0;

	if (!write_long(DELAY_PARAM, delay_ms))
		return false;
	usleep(300 * 1000);		/* let the pool settle under the new delay */
	carved = read_long(CARVED);
	t0 = now();
	for (int i = 0; i < CHURN_ITERS; i++) {
		char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_EXCLUSIVE, -1, 0);

		if (p == MAP_FAILED)
			die("churn mmap: %s", strerror(errno));
		for (size_t off = 0; off < len; off += page_size)
			p[off] = 1;
		munmap(p, len);
		usleep(1000);	/* other work between rounds: the drain work may run */
	}
	c->delay_ms = delay_ms;
	c->ns_per_iter = (now() - t0) * 1e9 / CHURN_ITERS;
	c->carved_per_1000 = (read_long(CARVED) - carved) * 1000.0 / CHURN_ITERS;
	return true;
}

/* ---- 2. page faults ---- */

struct fault_job {
	size_t len;
	double ns_per_page;
};

static void *fault_region(void *arg)
{
	struct fault_job *j = arg;
	double t0;
	char *p;

	p = mmap(NULL, j->len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("mmap %zu: %s", j->len, strerror(errno));
	madvise(p, j->len, MADV_NOHUGEPAGE);
	t0 = now();
	for (size_t off = 0; off < j->len; off += page_size)
		p[off] = 1;
	j->ns_per_page = (now() - t0) * 1e9 / (j->len / page_size);
	munmap(p, j->len);
	return NULL;
}

/* fork() with the region written, then the child writes every page. */
static double cow_ns_per_page(size_t len)
{
	int pfd[2], status;
	double ns = 0;
	char *p;
	pid_t pid;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED || pipe(pfd))
		die("cow setup: %s", strerror(errno));
	madvise(p, len, MADV_NOHUGEPAGE);
	memset(p, 1, len);
	pid = fork();
	if (!pid) {
		double t0 = now();

		for (size_t off = 0; off < len; off += page_size)
			p[off] = 2;
		ns = (now() - t0) * 1e9 / (len / page_size);
		if (write(pfd[1], &ns, sizeof(ns)) != sizeof(ns))
			_exit(1);
		_exit(0);
	}
	if (pid < 0 || read(pfd[0], &ns, sizeof(ns)) != sizeof(ns) ||
	    waitpid(pid, &status, 0) != pid || status)
		die("cow child failed");
	close(pfd[0]);
	close(pfd[1]);
	munmap(p, len);
	return ns;
}

enum { ONE_THREAD, TWO_THREADS, COW, NR_FAULT_CASES };

static const char *const fault_case[NR_FAULT_CASES] = {
	"fault, 1 thread", "fault, 2 threads at once", "copy-on-write after fork",
};

/* In a child process (mode or not): one sample of each case, via a pipe. */
static void fault_sample(bool mode, double out[NR_FAULT_CASES])
{
	int pfd[2], status;
	pid_t pid;

	if (pipe(pfd))
		die("pipe: %s", strerror(errno));
	pid = fork();
	if (!pid) {
		struct fault_job one = { FAULT_MIB << 20 };
		struct fault_job two[2] = { { FAULT_MIB << 19 }, { FAULT_MIB << 19 } };
		double v[NR_FAULT_CASES];
		pthread_t t[2];

		if (mode)
			enter_mode();
		fault_region(&one);
		v[ONE_THREAD] = one.ns_per_page;
		for (int i = 0; i < 2; i++)
			pthread_create(&t[i], NULL, fault_region, &two[i]);
		for (int i = 0; i < 2; i++)
			pthread_join(t[i], NULL);
		v[TWO_THREADS] = (two[0].ns_per_page + two[1].ns_per_page) / 2;
		v[COW] = cow_ns_per_page(FAULT_MIB << 19);
		_exit(write(pfd[1], v, sizeof(v)) == sizeof(v) ? 0 : 1);
	}
	if (pid < 0 || read(pfd[0], out, sizeof(double) * NR_FAULT_CASES) !=
			       (ssize_t)(sizeof(double) * NR_FAULT_CASES) ||
	    waitpid(pid, &status, 0) != pid || status)
		die("fault sample (mode %d) failed", mode);
	close(pfd[0]);
	close(pfd[1]);
}

int main(void)
{
	double faults[2][NR_FAULT_CASES][ROUNDS], sample[NR_FAULT_CASES];
	double fmed[2][NR_FAULT_CASES];
	struct churn churns[2];
	bool have_churn;
	long default_delay;
	long splits0, splits1, blocks, pages;
	struct utsname uts;
	size_t w;

	page_size = sysconf(_SC_PAGESIZE);
	uname(&uts);
	if (prctl(PR_GET_MEMORY_EXCLUSIVE, 0, 0, 0, 0) < 0) {
		printf("SKIP: no exclusive memory mode: %s\n", strerror(errno));
		return KSFT_SKIP;
	}
	splits0 = read_key("/proc/vmstat", "direct_map_level2_splits");

	make_inputs();
	run_workloads();
	for (int r = 0; r < ROUNDS; r++)
		for (int i = 0; i < 2; i++) {
			int mode = (r + i) % 2;

			fault_sample(mode, sample);
			for (int c = 0; c < NR_FAULT_CASES; c++)
				faults[mode][c][r] = sample[c];
		}
	for (int m = 0; m < 2; m++)
		for (int c = 0; c < NR_FAULT_CASES; c++)
			fmed[m][c] = median(faults[m][c], ROUNDS);

	default_delay = read_long(DELAY_PARAM);
	have_churn = default_delay >= 0 && churn(0, &churns[0]) &&
		     churn(default_delay, &churns[1]);
	if (default_delay >= 0)
		write_long(DELAY_PARAM, default_delay);

	splits1 = read_key("/proc/vmstat", "direct_map_level2_splits");
	for (int i = 0; i < 500; i++) {	/* empty blocks drain asynchronously */
		blocks = read_long("/sys/kernel/mm/asi/exclusive_blocks");
		pages = read_long("/sys/kernel/mm/asi/exclusive_pages");
		if (!blocks && !pages)
			break;
		usleep(10000);
	}
	unlink(DATA ".txt");
	unlink(DATA ".c");
	unlink(DATA ".o");

	printf("exclusive_mode_bench on %s, %d alternating rounds\n", uts.release, ROUNDS);
	printf("ASI-BENCH-JSON-BEGIN\n");
	printf("{\n  \"bench\": \"exclusive_mode\",\n  \"kernel\": \"%s\",\n", uts.release);
	printf("  \"params\": {\"rounds\": %d, \"fault_mib\": %d, \"sort_lines\": %d, "
	       "\"page_size\": %zu},\n", ROUNDS, FAULT_MIB, SORT_LINES, page_size);
	printf("  \"tables\": [\n    {\n      \"title\": \"Real workloads without and with "
	       "the mode (median wall time, minor faults)\",\n");
	printf("      \"columns\": [\"workload\", \"plain s\", \"mode s\", \"mode / plain\", "
	       "\"plain faults\", \"mode faults\"],\n      \"rows\": [");
	for (w = 0; w < NR_WORKLOADS; w++) {
		struct workload *wl = &workloads[w];
		double ps, ms, pf, mf;

		if (!wl->ok) {
			printf("%s\n      [\"%s\", null, null, null, null, null]",
			       w ? "," : "", wl->name);
			continue;
		}
		ps = median(wl->secs[0], ROUNDS);
		ms = median(wl->secs[1], ROUNDS);
		pf = median(wl->minflt[0], ROUNDS);
		mf = median(wl->minflt[1], ROUNDS);
		printf("%s\n      [\"%s\", %.3f, %.3f, %.3f, %.0f, %.0f]", w ? "," : "",
		       wl->name, ps, ms, ms / ps, pf, mf);
		fprintf(stderr, "%-8s plain %.3f s, mode %.3f s: %.3fx\n", wl->name,
			ps, ms, ms / ps);
	}
	printf("\n      ]\n    },\n");
	printf("    {\n      \"title\": \"Page faults, ns per 4 KiB page (median)\",\n");
	printf("      \"columns\": [\"case\", \"plain\", \"mode\", \"mode / plain\"],\n"
	       "      \"rows\": [");
	for (int c = 0; c < NR_FAULT_CASES; c++)
		printf("%s\n      [\"%s\", %.0f, %.0f, %.2f]", c ? "," : "", fault_case[c],
		       fmed[0][c], fmed[1][c], fmed[1][c] / fmed[0][c]);
	printf("\n      ]\n    },\n");
	printf("    {\n      \"title\": \"Pool churn: mmap(MAP_EXCLUSIVE, 64 KiB), touch, munmap, "
	       "%d times\",\n", CHURN_ITERS);
	printf("      \"columns\": [\"drain_delay_ms\", \"ns per iteration\", "
	       "\"blocks carved per 1000\"],\n      \"rows\": [");
	for (int i = 0; i < 2; i++) {
		if (have_churn)
			printf("%s\n      [%ld, %.0f, %.1f]", i ? "," : "", churns[i].delay_ms,
			       churns[i].ns_per_iter, churns[i].carved_per_1000);
		else
			printf("%s\n      [null, null, null]", i ? "," : "");
	}
	printf("\n      ]\n    },\n");
	printf("    {\n      \"title\": \"The direct map and the pool\",\n");
	printf("      \"columns\": [\"measure\", \"value\"],\n      \"rows\": [\n");
	printf("      [\"direct_map_level2_splits during the run\", %ld],\n",
	       splits0 < 0 || splits1 < 0 ? -1 : splits1 - splits0);
	printf("      [\"exclusive_blocks at the end\", %ld],\n", blocks);
	printf("      [\"exclusive_pages at the end\", %ld]\n", pages);
	printf("      ]\n    }\n  ]\n}\nASI-BENCH-JSON-END\n");
	return 0;
}
