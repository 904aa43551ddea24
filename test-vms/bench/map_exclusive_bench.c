// SPDX-License-Identifier: GPL-2.0
/*
 * map_exclusive_bench: what MAP_EXCLUSIVE costs, against plain anonymous
 * memory and memfd_secret, measured in one boot so that the ratios compare
 * like with like.
 *
 * 1. Fault-in and release cost per 4 KiB page. Each round maps a region,
 *    writes one byte per page (one fault per page: THP is disabled on the
 *    anonymous region so that it faults 4 KiB at a time like the others),
 *    then releases it. "Release" is munmap() for anonymous and exclusive
 *    memory, munmap() + close() for memfd_secret, whose pages belong to the
 *    file and are only freed when it is closed. Medians over the warm
 *    rounds; the first round is reported on its own ("cold"): for
 *    MAP_EXCLUSIVE it includes carving 2 MiB blocks out of the direct map.
 *
 * 2. Direct-map fragmentation: /proc/vmstat direct_map_level2_splits (a
 *    2 MiB direct-map page split into 4 KiB pages) and level3 (1 GiB into
 *    2 MiB) before and after populating N MiB, per MiB populated, plus
 *    /proc/meminfo DirectMap4k/2M. Two scenarios: "fresh" (right after
 *    boot, free memory mostly contiguous) and "fragmented" (first a large
 *    anonymous region is touched and every other page of it freed, so that
 *    free 4 KiB pages are scattered over many 2 MiB ranges, as on a host
 *    that has been running for a while).
 *
 * Output: a human-readable summary, then one JSON document between the
 * lines "ASI-BENCH-JSON-BEGIN" and "ASI-BENCH-JSON-END", which asi-tool
 * bench turns into a report. Exit 0 on success, 4 (KSFT_SKIP) if a kind
 * of memory is not available, 1 on an unexpected error.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef MAP_EXCLUSIVE
#define MAP_EXCLUSIVE	0x200000
#endif
#ifndef __NR_memfd_secret
#define __NR_memfd_secret 447
#endif

#define KSFT_SKIP	4
#define MAX_ROUNDS	64

enum kind { ANON, EXCLUSIVE, SECRETMEM, NR_KINDS };

static const char *const kind_name[NR_KINDS] = {
	"anon", "map_exclusive", "memfd_secret",
};

static size_t page_size;

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "map_exclusive_bench: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static long read_key(const char *path, const char *name)
{
	char key[128];
	long val;
	FILE *f;
	int n;

	f = fopen(path, "r");
	if (!f)
		return -1;
	/* /proc/vmstat is "key value", /proc/meminfo is "Key: value kB". */
	while ((n = fscanf(f, "%127s %ld%*[^\n]", key, &val)) == 2) {
		size_t len = strlen(key);

		if (len && key[len - 1] == ':')
			key[len - 1] = '\0';
		if (!strcmp(key, name)) {
			fclose(f);
			return val;
		}
	}
	fclose(f);
	return -1;
}

struct region {
	enum kind kind;
	char *addr;
	size_t len;
	int fd;
};

/* Maps len bytes of one kind; returns -errno on failure. */
static int region_map(struct region *r, enum kind kind, size_t len)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS;
	int fd = -1;
	void *p;

	r->kind = kind;
	r->len = len;
	r->fd = -1;
	if (kind == SECRETMEM) {
		fd = syscall(__NR_memfd_secret, 0);
		if (fd < 0)
			return -errno;
		if (ftruncate(fd, len)) {
			int err = -errno;

			close(fd);
			return err;
		}
		flags = MAP_SHARED;
	} else if (kind == EXCLUSIVE) {
		flags |= MAP_EXCLUSIVE;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, fd, 0);
	if (p == MAP_FAILED) {
		int err = -errno;

		if (fd >= 0)
			close(fd);
		return err;
	}
	/* EINVAL: a kernel without THP, nothing to turn off. */
	if (kind == ANON && madvise(p, len, MADV_NOHUGEPAGE) && errno != EINVAL)
		die("madvise(MADV_NOHUGEPAGE): %s", strerror(errno));
	r->addr = p;
	r->fd = fd;
	return 0;
}

static void region_touch(struct region *r)
{
	for (size_t off = 0; off < r->len; off += page_size)
		((volatile char *)r->addr)[off] = 1;
}

static void region_release(struct region *r)
{
	if (munmap(r->addr, r->len))
		die("munmap: %s", strerror(errno));
	if (r->fd >= 0)
		close(r->fd);
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

struct cost {
	double cold_fault, cold_release;	/* ns per page, first round */
	double fault, release;			/* ns per page, warm median */
	double fault_min, fault_max;
};

static int measure_cost(enum kind kind, size_t len, int rounds, struct cost *c)
{
	double fault[MAX_ROUNDS], release[MAX_ROUNDS];
	size_t pages = len / page_size;

	for (int i = 0; i <= rounds; i++) {
		struct region r;
		double t0, t1, t2;
		int err = region_map(&r, kind, len);

		if (err)
			return err;
		t0 = now_ns();
		region_touch(&r);
		t1 = now_ns();
		region_release(&r);
		t2 = now_ns();
		if (i == 0) {
			c->cold_fault = (t1 - t0) / pages;
			c->cold_release = (t2 - t1) / pages;
		} else {
			fault[i - 1] = (t1 - t0) / pages;
			release[i - 1] = (t2 - t1) / pages;
		}
	}
	qsort(fault, rounds, sizeof(double), cmp_double);
	c->fault_min = fault[0];
	c->fault_max = fault[rounds - 1];
	c->fault = median(fault, rounds);
	c->release = median(release, rounds);
	return 0;
}

struct splits {
	long l2, l3;		/* direct_map_level{2,3}_splits added */
	long dm4k, dm2m;	/* DirectMap4k/2M change, kB */
	size_t len;		/* bytes populated */
};

struct snapshot {
	long l2, l3, dm4k, dm2m;
};

static void snap(struct snapshot *s)
{
	s->l2 = read_key("/proc/vmstat", "direct_map_level2_splits");
	s->l3 = read_key("/proc/vmstat", "direct_map_level3_splits");
	s->dm4k = read_key("/proc/meminfo", "DirectMap4k");
	s->dm2m = read_key("/proc/meminfo", "DirectMap2M");
}

/* Populates len bytes of one kind and reports the direct-map splits. */
static int measure_splits(enum kind kind, size_t len, struct splits *out,
			  struct region *keep)
{
	struct snapshot a, b;
	int err;

	snap(&a);
	err = region_map(keep, kind, len);
	if (err)
		return err;
	region_touch(keep);
	snap(&b);
	out->l2 = b.l2 - a.l2;
	out->l3 = b.l3 - a.l3;
	out->dm4k = b.dm4k - a.dm4k;
	out->dm2m = b.dm2m - a.dm2m;
	out->len = len;
	return 0;
}

/*
 * Scatter free pages where memfd_secret allocates them. Its pages are
 * unmovable, so the allocator takes them from unmovable pageblocks, not
 * from the ones anonymous memory frees into. Pipe buffers are unmovable
 * pages too: fill nr one-page pipes, then close every stride-th one. The
 * freed pages sit one every stride pages, so (for stride >= 512) each in
 * a different 2 MiB range of the direct map, and are handed out first:
 * the state of a host whose kernel allocations have churned for a while,
 * and the worst case for memory that leaves the direct map page by page.
 * Returns the number of pages freed; *fds keeps the other pipes open.
 */
static long fragment(int **fds, long nr, long stride)
{
	struct rlimit files = { 2 * nr + 64, 2 * nr + 64 };
	static char page[65536];
	long freed = 0;

	if (setrlimit(RLIMIT_NOFILE, &files))
		die("setrlimit(RLIMIT_NOFILE, %ld): %s", 2 * nr + 64,
		    strerror(errno));
	*fds = calloc(2 * nr, sizeof(int));
	if (!*fds)
		die("out of memory");
	for (long i = 0; i < nr; i++) {
		int *p = *fds + 2 * i;

		if (pipe(p))
			die("pipe #%ld: %s", i, strerror(errno));
		if (fcntl(p[1], F_SETPIPE_SZ, page_size) < 0)
			die("F_SETPIPE_SZ: %s", strerror(errno));
		if (write(p[1], page, page_size) != (ssize_t)page_size)
			die("pipe write: %s", strerror(errno));
	}
	for (long i = 0; i < nr; i += stride) {
		close((*fds)[2 * i]);
		close((*fds)[2 * i + 1]);
		(*fds)[2 * i] = (*fds)[2 * i + 1] = -1;
		freed++;
	}
	return freed;
}

static void unfragment(int *fds, long nr)
{
	for (long i = 0; i < 2 * nr; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
}

static void wait_pool_drained(void)
{
	/* Empty exclusive blocks go back to the direct map after ~1 s. */
	for (int i = 0; i < 50; i++) {
		FILE *f = fopen("/sys/kernel/mm/asi/exclusive_blocks", "r");
		long blocks = -1;

		if (!f)
			return;
		if (fscanf(f, "%ld", &blocks) != 1)
			blocks = -1;
		fclose(f);
		if (blocks == 0)
			return;
		usleep(100 * 1000);
	}
	fprintf(stderr, "map_exclusive_bench: exclusive blocks not drained after 5 s\n");
}

static void json_cost(FILE *f, const char *sep, enum kind k,
		      const struct cost *c, const struct cost *anon)
{
	fprintf(f, "%s\n      [\"%s\", %.0f, %.0f, %.2f, %.2f, %.0f, %.0f, %.0f, %.0f]",
		sep, kind_name[k], c->fault, c->release,
		c->fault / anon->fault, c->release / anon->release,
		c->cold_fault, c->cold_release, c->fault_min, c->fault_max);
}

static void json_splits(FILE *f, const char *sep, const char *scenario,
			enum kind k, const struct splits *s)
{
	double mib = (double)s->len / (1 << 20);

	fprintf(f, "%s\n      [\"%s\", \"%s\", %.2f, %ld, %.2f, %ld, %ld, %ld]",
		sep, scenario, kind_name[k], mib, s->l2, s->l2 / mib, s->l3,
		s->dm4k, s->dm2m);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: map_exclusive_bench [--mib N] [--rounds N] [--split-mib N] [--pipes N] [--stride N]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	long mib = 16, split_mib = 64, frag_pipes = 65536, frag_stride = 512;
	long scattered = 0;
	int rounds = 9;
	struct cost cost[NR_KINDS];
	struct splits fresh[NR_KINDS], frag[NR_KINDS];
	struct region keep[NR_KINDS];
	struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };
	char kernel[256] = "";
	FILE *f;

	for (int i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		if (!strcmp(argv[i], "--mib"))
			mib = atol(argv[++i]);
		else if (!strcmp(argv[i], "--rounds"))
			rounds = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--split-mib"))
			split_mib = atol(argv[++i]);
		else if (!strcmp(argv[i], "--pipes"))
			frag_pipes = atol(argv[++i]);
		else if (!strcmp(argv[i], "--stride"))
			frag_stride = atol(argv[++i]);
		else
			usage();
	}
	if (mib <= 0 || split_mib <= 0 || frag_pipes <= 0 || frag_stride <= 0 || rounds < 1 ||
	    rounds > MAX_ROUNDS)
		usage();
	page_size = sysconf(_SC_PAGESIZE);
	/*
	 * One CPU: the per-CPU page lists that hand out the scattered pages
	 * are the ones they were freed to, and timings do not migrate.
	 */
	{
		cpu_set_t one;

		CPU_ZERO(&one);
		CPU_SET(0, &one);
		if (sched_setaffinity(0, sizeof(one), &one))
			die("sched_setaffinity: %s", strerror(errno));
	}
	/* Both kinds of secret memory count against RLIMIT_MEMLOCK. */
	if (setrlimit(RLIMIT_MEMLOCK, &unlimited))
		die("setrlimit(RLIMIT_MEMLOCK): %s (run as root)", strerror(errno));
	f = fopen("/proc/sys/kernel/osrelease", "r");
	if (f) {
		if (!fgets(kernel, sizeof(kernel), f))
			kernel[0] = '\0';
		kernel[strcspn(kernel, "\n")] = '\0';
		fclose(f);
	}
	if (read_key("/proc/vmstat", "direct_map_level2_splits") < 0)
		die("/proc/vmstat has no direct_map_level2_splits (x86 only)");

	/* Splits first, on memory nobody has split yet. */
	for (int k = EXCLUSIVE; k < NR_KINDS; k++) {
		int err = measure_splits(k, split_mib << 20, &fresh[k], &keep[k]);

		if (err) {
			printf("SKIP: cannot map %s: %s\n", kind_name[k],
			       strerror(-err));
			return KSFT_SKIP;
		}
	}
	for (int k = EXCLUSIVE; k < NR_KINDS; k++)
		region_release(&keep[k]);
	wait_pool_drained();

	{
		int *pipes;

		/*
		 * memfd_secret first, so that it gets the scattered pages;
		 * MAP_EXCLUSIVE takes whole 2 MiB blocks and does not use them.
		 */
		scattered = fragment(&pipes, frag_pipes, frag_stride);
		for (int k = SECRETMEM; k >= EXCLUSIVE; k--)
			if (measure_splits(k, scattered * page_size, &frag[k],
					   &keep[k]))
				die("mapping %s failed", kind_name[k]);
		for (int k = EXCLUSIVE; k < NR_KINDS; k++)
			region_release(&keep[k]);
		unfragment(pipes, frag_pipes);
	}
	wait_pool_drained();

	for (int k = 0; k < NR_KINDS; k++) {
		int err = measure_cost(k, mib << 20, rounds, &cost[k]);

		if (err)
			die("mapping %s failed: %s", kind_name[k], strerror(-err));
	}

	printf("map_exclusive_bench on %s: %ld MiB regions, %d warm rounds\n",
	       kernel, mib, rounds);
	printf("%-14s %10s %10s %8s %8s\n", "kind", "fault ns", "release ns",
	       "x anon", "x anon");
	for (int k = 0; k < NR_KINDS; k++)
		printf("%-14s %10.0f %10.0f %8.2f %8.2f\n", kind_name[k],
		       cost[k].fault, cost[k].release,
		       cost[k].fault / cost[ANON].fault,
		       cost[k].release / cost[ANON].release);
	for (int k = EXCLUSIVE; k < NR_KINDS; k++)
		printf("%-14s fresh: %ld level-2 splits for %zu KiB; fragmented: %ld for %zu KiB\n",
		       kind_name[k], fresh[k].l2, fresh[k].len >> 10, frag[k].l2,
		       frag[k].len >> 10);

	printf("ASI-BENCH-JSON-BEGIN\n");
	printf("{\n  \"bench\": \"map_exclusive\",\n  \"kernel\": \"%s\",\n", kernel);
	printf("  \"params\": {\"region_mib\": %ld, \"warm_rounds\": %d, \"split_mib\": %ld, "
	       "\"pipes\": %ld, \"stride\": %ld, \"scattered_pages\": %ld, \"page_size\": %zu},\n",
	       mib, rounds, split_mib, frag_pipes, frag_stride, scattered, page_size);
	printf("  \"tables\": [\n    {\n      \"title\": \"Fault-in and release cost per 4 KiB page (ns)\",\n");
	printf("      \"columns\": [\"kind\", \"fault\", \"release\", \"fault / anon\", "
	       "\"release / anon\", \"cold fault\", \"cold release\", \"fault min\", \"fault max\"],\n");
	printf("      \"rows\": [");
	for (int k = 0; k < NR_KINDS; k++)
		json_cost(stdout, k ? "," : "", k, &cost[k], &cost[ANON]);
	printf("\n      ]\n    },\n");
	printf("    {\n      \"title\": \"MAP_EXCLUSIVE against memfd_secret\",\n");
	printf("      \"columns\": [\"measure\", \"map_exclusive / memfd_secret\"],\n");
	printf("      \"rows\": [\n      [\"fault\", %.2f],\n      [\"release\", %.2f],\n"
	       "      [\"cold fault\", %.2f],\n      [\"cold release\", %.2f]\n      ]\n    },\n",
	       cost[EXCLUSIVE].fault / cost[SECRETMEM].fault,
	       cost[EXCLUSIVE].release / cost[SECRETMEM].release,
	       cost[EXCLUSIVE].cold_fault / cost[SECRETMEM].cold_fault,
	       cost[EXCLUSIVE].cold_release / cost[SECRETMEM].cold_release);
	printf("    {\n      \"title\": \"Direct-map splits while the memory is populated\",\n");
	printf("      \"columns\": [\"scenario\", \"kind\", \"MiB\", \"2M->4K splits\", "
	       "\"splits per MiB\", \"1G->2M splits\", \"DirectMap4k change (kB)\", "
	       "\"DirectMap2M change (kB)\"],\n");
	printf("      \"rows\": [");
	json_splits(stdout, "", "fresh", EXCLUSIVE, &fresh[EXCLUSIVE]);
	json_splits(stdout, ",", "fresh", SECRETMEM, &fresh[SECRETMEM]);
	json_splits(stdout, ",", "fragmented", EXCLUSIVE, &frag[EXCLUSIVE]);
	json_splits(stdout, ",", "fragmented", SECRETMEM, &frag[SECRETMEM]);
	printf("\n      ]\n    }\n  ]\n}\nASI-BENCH-JSON-END\n");
	return 0;
}
