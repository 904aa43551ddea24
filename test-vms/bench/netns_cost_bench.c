// SPDX-License-Identifier: GPL-2.0
/*
 * netns_cost_bench: what an ASI domain costs a network namespace and the
 * processes in it, measured in one boot (asi=on) so that the two sides
 * compare like with like.
 *
 * With kernel.asi_netns=1 a new namespace gets a domain and its processes
 * run on the domain's view; with kernel.asi_netns=0 it gets none and they
 * run on the full kernel mapping, as without ASI. A round measures both
 * settings back to back, in alternating order (ABBA...), so that drift hits
 * both; the cost of a domain is, per round, the ratio of the two, and the
 * report gives the geometric mean of those paired ratios with its 95%
 * confidence interval (Student's t on the logarithms). Rounds go on, from
 * MIN_ROUNDS up to MAX_ROUNDS, until every interval is within +-TARGET_PCT;
 * the report says whether that was reached. Every round checks
 * /proc/net/asi, so a round that did not get the configuration it measures
 * fails the benchmark instead of skewing it.
 * Everything runs pinned to CPU 0, so that both ends of a TCP connection
 * and the softirqs they raise share one CPU, as on a busy host, and the
 * scheduler's placement adds no noise of its own.
 *
 * Per setting:
 * - netns_create: fork, unshare(CLONE_NEWNET), exit, wait. Creating the
 *   domain is in it; the namespace's teardown runs later in a kworker.
 * - getppid: one system call. Without PTI nothing on the syscall path
 *   differs, so this is the control: it should not move.
 * - fork_exit: fork, exit, wait. The child's mm is bound to the domain.
 * - tcp_rr: a 1-byte TCP round trip over loopback inside the namespace.
 *   Each send runs the receive softirq in the sender's context; in a bound
 *   process that switches to the trusted view and back (two CR3 writes).
 * - tcp_stream: 16 MiB over loopback TCP.
 * - view switches: /sys/kernel/mm/asi/view_switches read around each of
 *   the above, per 1000 operations (per MiB for the stream): switches to
 *   the trusted view, two flushing CR3 writes each, counted on all CPUs.
 *   Unlike the times, they do not depend on the emulator's speed. A
 *   system call must not switch: getppid() with a domain at 1 or more per
 *   1000 calls fails the benchmark.
 * - memory: with 32 such namespaces held open, per namespace: the drop of
 *   MemFree, the domains' data and page-table pages, and the 2 MiB blocks
 *   the MAP_EXCLUSIVE pool took out of the direct map for the data pages
 *   (the pool grows by whole blocks, so this is lumpy).
 *
 * Output: a human-readable summary, then one JSON document between the
 * lines "ASI-BENCH-JSON-BEGIN" and "ASI-BENCH-JSON-END" for asi-tool bench.
 * Exit 0 on success, 4 (KSFT_SKIP) without active netns domains, 1 on an
 * error.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KSFT_SKIP	4
#define MIN_ROUNDS	10
#define MAX_ROUNDS	60
#define TARGET_PCT	3.0	/* stop once every 95% interval is this narrow */
#define CREATE_ITERS	40
#define GETPPID_ITERS	200000
#define FORK_ITERS	100
#define RR_ITERS	3000
#define STREAM_BYTES	(16 << 20)
#define MEM_NETNS	32

#define SYSCTL_NETNS	"/proc/sys/kernel/asi_netns"
#define SYSFS_ASI	"/sys/kernel/mm/asi/"

enum op { CREATE, GETPPID, FORK, RR, STREAM, NR_OPS };

static const struct {
	const char *name, *unit;
	double per;	/* operations per round, for view switches per 1000 */
} ops[NR_OPS] = {
	[CREATE]	= { "netns_create", "us", CREATE_ITERS },
	[GETPPID]	= { "getppid", "ns", GETPPID_ITERS },
	[FORK]		= { "fork_exit", "us", FORK_ITERS },
	[RR]		= { "tcp_rr", "us", RR_ITERS },
	[STREAM]	= { "tcp_stream", "MiB/s", STREAM_BYTES >> 20 },
};

struct mem {
	/* per namespace */
	double memfree_kib, asi_pages, asi_pgtables, pool_blocks;
};

static char orig_sysctl[8];

static void restore(void)
{
	int fd = open(SYSCTL_NETNS, O_WRONLY);

	if (fd >= 0 && orig_sysctl[0]) {
		if (write(fd, orig_sysctl, strlen(orig_sysctl)) < 0)
			perror("restoring " SYSCTL_NETNS);
	}
	if (fd >= 0)
		close(fd);
}

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "netns_cost_bench: ");
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

static int read_line(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	if (!fgets(buf, size, f)) {
		fclose(f);
		return -1;
	}
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static long read_long(const char *path)
{
	char buf[64];

	if (read_line(path, buf, sizeof(buf)))
		die("cannot read %s: %s", path, strerror(errno));
	return atol(buf);
}

/*
 * /sys/kernel/mm/asi/view_switches: borrows of the trusted view, each two
 * flushing CR3 writes, on all CPUs.  A count that does not depend on the
 * emulator's speed.  Negative if the kernel has no such file.
 */
static double view_switches(void)
{
	char buf[64];

	if (read_line(SYSFS_ASI "view_switches", buf, sizeof(buf)))
		return -1;
	return atof(buf);
}

static void set_sysctl(int domain)
{
	int fd = open(SYSCTL_NETNS, O_WRONLY);

	if (fd < 0 || write(fd, domain ? "1" : "0", 1) != 1)
		die("cannot write %s: %s", SYSCTL_NETNS, strerror(errno));
	close(fd);
}

/* The domain of the current namespace, from /proc/net/asi. */
static long own_domain(void)
{
	char line[128];
	long dom = -1;
	FILE *f = fopen("/proc/net/asi", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "domain %ld", &dom) == 1)
			break;
	fclose(f);
	return dom;
}

static long meminfo_kib(const char *key)
{
	char line[128];
	long val = -1;
	size_t len = strlen(key);
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, len) && line[len] == ':') {
			val = atol(line + len + 1);
			break;
		}
	fclose(f);
	return val;
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

/* Student's t, two-sided 95%, for @df degrees of freedom. */
static double t975(int df)
{
	static const double t[] = { 0, 12.706, 4.303, 3.182, 2.776, 2.571,
		2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
		2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069,
		2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042 };

	if (df < 1)
		return INFINITY;
	if (df <= 30)
		return t[df];
	return 1.960 + 2.5 / df;	/* within 0.002 of the table up to 120 */
}

/*
 * The paired ratios @b[i] / @a[i] of @n rounds: their geometric mean and
 * its 95% confidence interval, from the mean and spread of the logs.
 */
static void ratio_ci(const double *a, const double *b, int n, double *mean,
		     double *lo, double *hi)
{
	double sum = 0, sq = 0, m, sd, h;

	for (int i = 0; i < n; i++)
		sum += log(b[i] / a[i]);
	m = sum / n;
	for (int i = 0; i < n; i++) {
		double d = log(b[i] / a[i]) - m;

		sq += d * d;
	}
	sd = n > 1 ? sqrt(sq / (n - 1)) : INFINITY;
	h = t975(n - 1) * sd / sqrt(n);
	*mean = exp(m);
	*lo = exp(m - h);
	*hi = exp(m + h);
}

/* Whether every operation's interval lies within +-TARGET_PCT of its mean. */
static int narrow_enough(double v[2][NR_OPS][MAX_ROUNDS], int n)
{
	for (int i = 0; i < NR_OPS; i++) {
		double m, lo, hi;

		ratio_ci(v[0][i], v[1][i], n, &m, &lo, &hi);
		if (hi / m - 1 > TARGET_PCT / 100 || 1 - lo / m > TARGET_PCT / 100)
			return 0;
	}
	return 1;
}

static void wait_ok(pid_t pid, const char *what)
{
	int status;

	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		die("%s failed (status %#x)", what, status);
}

/* Bring lo up in the current namespace. */
static void lo_up(void)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	strcpy(ifr.ifr_name, "lo");
	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr))
		die("lo: %s", strerror(errno));
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr))
		die("lo up: %s", strerror(errno));
	close(fd);
}

static pid_t xfork(void)
{
	pid_t pid = fork();

	if (pid < 0)
		die("fork: %s", strerror(errno));
	return pid;
}

/* fork, (@newnet: unshare(CLONE_NEWNET)), exit, wait: us per round. */
static double bench_forks(int iters, int newnet)
{
	double t0 = now_ns();

	for (int i = 0; i < iters; i++) {
		pid_t pid = xfork();

		if (!pid)
			_exit(newnet && unshare(CLONE_NEWNET) ? 1 : 0);
		wait_ok(pid, newnet ? "unshare(CLONE_NEWNET)" : "fork child");
	}
	return (now_ns() - t0) / iters / 1e3;
}

static double bench_getppid(void)
{
	double t0 = now_ns();

	for (int i = 0; i < GETPPID_ITERS; i++)
		getppid();
	return (now_ns() - t0) / GETPPID_ITERS;
}

/* A listening socket on 127.0.0.1 and a connected client; *srv accepted. */
static int tcp_pair(int *srv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int one = 1, l, c;

	l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&sin, sizeof(sin)) ||
	    listen(l, 1) || getsockname(l, (struct sockaddr *)&sin, &len))
		die("listen on loopback: %s", strerror(errno));
	c = socket(AF_INET, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&sin, sizeof(sin)))
		die("connect on loopback: %s", strerror(errno));
	*srv = accept(l, NULL, NULL);
	if (*srv < 0)
		die("accept: %s", strerror(errno));
	close(l);
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(*srv, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return c;
}

static double bench_rr(void)
{
	int srv, c = tcp_pair(&srv);
	char b = 'x';
	double t0;
	pid_t pid;

	pid = xfork();
	if (!pid) {
		close(c);
		while (read(srv, &b, 1) == 1)
			if (write(srv, &b, 1) != 1)
				_exit(1);
		_exit(0);
	}
	close(srv);
	t0 = now_ns();
	for (int i = 0; i < RR_ITERS; i++)
		if (write(c, &b, 1) != 1 || read(c, &b, 1) != 1)
			die("round trip: %s", strerror(errno));
	t0 = (now_ns() - t0) / RR_ITERS / 1e3;
	close(c);
	wait_ok(pid, "echo server");
	return t0;
}

static double bench_stream(void)
{
	static char buf[64 << 10];
	int srv, c = tcp_pair(&srv);
	long total = 0;
	double t0;
	ssize_t n;
	pid_t pid;

	pid = xfork();
	if (!pid) {
		close(c);
		while ((n = read(srv, buf, sizeof(buf))) > 0)
			total += n;
		_exit(total == STREAM_BYTES && write(srv, "k", 1) == 1 ? 0 : 1);
	}
	close(srv);
	memset(buf, 0x5a, sizeof(buf));
	t0 = now_ns();
	while (total < STREAM_BYTES) {
		n = write(c, buf, sizeof(buf));
		if (n <= 0)
			die("stream: %s", strerror(errno));
		total += n;
	}
	shutdown(c, SHUT_WR);
	if (read(c, buf, 1) != 1)
		die("stream: no acknowledgement");
	t0 = now_ns() - t0;
	close(c);
	wait_ok(pid, "stream sink");
	return (STREAM_BYTES / (double)(1 << 20)) / (t0 / 1e9);
}

/*
 * One round in a fresh namespace created with kernel.asi_netns=@domain:
 * the per-operation numbers, through a pipe from the child that runs them.
 */
static void round_in_netns(int domain, double *res, double *sw)
{
	int pfd[2];
	pid_t pid;
	long dom;
	double s0;

	set_sysctl(domain);
	s0 = view_switches();
	res[CREATE] = bench_forks(CREATE_ITERS, 1);
	sw[CREATE] = view_switches() - s0;
	if (pipe(pfd))
		die("pipe: %s", strerror(errno));
	pid = xfork();
	if (!pid) {
		double r[2 * NR_OPS] = { 0 }, t;

		close(pfd[0]);
		if (unshare(CLONE_NEWNET))
			die("unshare(CLONE_NEWNET): %s", strerror(errno));
		dom = own_domain();
		if ((domain && dom <= 0) || (!domain && dom != 0))
			die("/proc/net/asi says domain %ld, expected %s", dom,
			    domain ? "a domain" : "none (0)");
		lo_up();
		/* r[NR_OPS + i]: view switches during operation i */
		t = view_switches();
		r[GETPPID] = bench_getppid();
		r[NR_OPS + GETPPID] = view_switches() - t;
		t = view_switches();
		r[FORK] = bench_forks(FORK_ITERS, 0);
		r[NR_OPS + FORK] = view_switches() - t;
		t = view_switches();
		r[RR] = bench_rr();
		r[NR_OPS + RR] = view_switches() - t;
		t = view_switches();
		r[STREAM] = bench_stream();
		r[NR_OPS + STREAM] = view_switches() - t;
		if (write(pfd[1], r, sizeof(r)) != sizeof(r))
			_exit(1);
		_exit(0);
	}
	close(pfd[1]);
	{
		double r[2 * NR_OPS];

		if (read(pfd[0], r, sizeof(r)) != sizeof(r))
			die("the round's child gave no results");
		for (int i = GETPPID; i < NR_OPS; i++) {
			res[i] = r[i];
			sw[i] = r[NR_OPS + i];
		}
	}
	close(pfd[0]);
	wait_ok(pid, "a round");
}

static void wait_domains_gone(long alive0)
{
	for (int i = 0; i < 300; i++) {
		if (read_long(SYSFS_ASI "domains_alive") <= alive0)
			return;
		usleep(100000);
	}
	fprintf(stderr, "netns_cost_bench: domains still alive after 30 s\n");
}

/* What MEM_NETNS namespaces held open cost, per namespace. */
static void measure_mem(int domain, struct mem *m)
{
	long free0, pages0, pgt0, blocks0, alive0;
	pid_t pids[MEM_NETNS];
	int ready[2];
	char c;

	set_sysctl(domain);
	alive0 = read_long(SYSFS_ASI "domains_alive");
	sleep(1);
	free0 = meminfo_kib("MemFree");
	pages0 = read_long(SYSFS_ASI "domain_pages");
	pgt0 = read_long(SYSFS_ASI "domain_pgtable_pages");
	blocks0 = read_long(SYSFS_ASI "exclusive_blocks");
	if (pipe(ready))
		die("pipe: %s", strerror(errno));
	for (int i = 0; i < MEM_NETNS; i++) {
		pids[i] = xfork();
		if (!pids[i]) {
			close(ready[0]);
			if (unshare(CLONE_NEWNET))
				_exit(1);
			if (write(ready[1], "r", 1) != 1)
				_exit(1);
			pause();
			_exit(0);
		}
	}
	close(ready[1]);
	for (int i = 0; i < MEM_NETNS; i++)
		if (read(ready[0], &c, 1) != 1)
			die("a namespace holder failed");
	close(ready[0]);
	sleep(1);
	m->memfree_kib = (double)(free0 - meminfo_kib("MemFree")) / MEM_NETNS;
	m->asi_pages = (double)(read_long(SYSFS_ASI "domain_pages") - pages0) /
		       MEM_NETNS;
	m->asi_pgtables = (double)(read_long(SYSFS_ASI "domain_pgtable_pages") -
				   pgt0) / MEM_NETNS;
	m->pool_blocks = (double)(read_long(SYSFS_ASI "exclusive_blocks") -
				  blocks0) / MEM_NETNS;
	for (int i = 0; i < MEM_NETNS; i++)
		kill(pids[i], SIGKILL);
	for (int i = 0; i < MEM_NETNS; i++)
		waitpid(pids[i], NULL, 0);
	wait_domains_gone(alive0);
}

int main(void)
{
	double v[2][NR_OPS][MAX_ROUNDS], med[2][NR_OPS], sorted[MAX_ROUNDS];
	double mean[NR_OPS], lo[NR_OPS], hi[NR_OPS];
	double sw[2][NR_OPS] = { { 0 } }, swk[2][NR_OPS];
	int have_sw = view_switches() >= 0;
	struct mem mem[2];
	struct utsname u;
	char status[64];
	cpu_set_t cpus;
	int rounds, reached;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (read_line(SYSFS_ASI "netns_domains", status, sizeof(status)) ||
	    strcmp(status, "active")) {
		printf("netns_cost_bench: SKIP: %snetns_domains is not active (boot with asi=on, CONFIG_ASI_NETNS=y)\n",
		       SYSFS_ASI);
		return KSFT_SKIP;
	}
	if (read_line(SYSCTL_NETNS, orig_sysctl, sizeof(orig_sysctl)))
		die("cannot read %s", SYSCTL_NETNS);
	atexit(restore);
	uname(&u);
	CPU_ZERO(&cpus);
	CPU_SET(0, &cpus);
	if (sched_setaffinity(0, sizeof(cpus), &cpus))
		die("cannot pin to CPU 0: %s", strerror(errno));

	reached = 0;
	for (rounds = 0; rounds < MAX_ROUNDS && !reached; rounds++) {
		for (int k = 0; k < 2; k++) {
			/* ABBA order: neither side always goes first */
			int d = (rounds % 2) ? 1 - k : k;
			double res[NR_OPS], rsw[NR_OPS];

			round_in_netns(d, res, rsw);
			for (int i = 0; i < NR_OPS; i++) {
				v[d][i][rounds] = res[i];
				sw[d][i] += rsw[i];
			}
		}
		if (rounds + 1 >= MIN_ROUNDS)
			reached = narrow_enough(v, rounds + 1);
	}
	for (int i = 0; i < NR_OPS; i++) {
		ratio_ci(v[0][i], v[1][i], rounds, &mean[i], &lo[i], &hi[i]);
		for (int d = 0; d < 2; d++) {
			memcpy(sorted, v[d][i], rounds * sizeof(double));
			med[d][i] = median(sorted, rounds);
		}
	}
	/* View switches per 1000 operations (per MiB for the stream) */
	for (int d = 0; d < 2; d++)
		for (int i = 0; i < NR_OPS; i++)
			swk[d][i] = have_sw ? sw[d][i] / rounds / ops[i].per *
					      (i == STREAM ? 1 : 1000) : -1;
	/* Nothing on the system call path switches views */
	if (have_sw && swk[1][GETPPID] >= 1)
		die("%.1f view switches per 1000 getppid() calls with a domain",
		    swk[1][GETPPID]);
	measure_mem(0, &mem[0]);
	measure_mem(1, &mem[1]);

	printf("netns_cost_bench on %s: %d rounds, no domain vs domain; 95%% intervals %s +-%.0f%%\n",
	       u.release, rounds, reached ? "within" : "NOT all within", TARGET_PCT);
	for (int i = 0; i < NR_OPS; i++)
		printf("%-13s %10.2f %10.2f %-6s x%.3f [%.3f, %.3f]  view switches %.1f / %.1f\n",
		       ops[i].name, med[0][i], med[1][i], ops[i].unit, mean[i],
		       lo[i], hi[i], swk[0][i], swk[1][i]);
	for (int d = 0; d < 2; d++)
		printf("memory, %-9s: MemFree -%.1f KiB, ASI data pages %.2f, page-table pages %.2f, 2 MiB pool blocks %.3f per namespace\n",
		       d ? "domain" : "no domain", mem[d].memfree_kib,
		       mem[d].asi_pages, mem[d].asi_pgtables,
		       mem[d].pool_blocks);

	printf("ASI-BENCH-JSON-BEGIN\n");
	printf("{\n  \"bench\": \"netns_cost\",\n  \"kernel\": \"%s\",\n", u.release);
	printf("  \"params\": {\"cpu\": 0, \"rounds\": %d, \"min_rounds\": %d, \"max_rounds\": %d, "
	       "\"target_pct\": %.1f, \"target_reached\": %s, \"create_iters\": %d, \"getppid_iters\": %d, "
	       "\"fork_iters\": %d, \"rr_iters\": %d, \"stream_mib\": %d, \"mem_netns\": %d},\n",
	       rounds, MIN_ROUNDS, MAX_ROUNDS, TARGET_PCT, reached ? "true" : "false",
	       CREATE_ITERS, GETPPID_ITERS, FORK_ITERS, RR_ITERS,
	       STREAM_BYTES >> 20, MEM_NETNS);
	printf("  \"tables\": [\n    {\n      \"title\": \"Cost per operation in a namespace without and with a domain (%d rounds; medians, and the geometric mean of the per-round ratios with its 95%% confidence interval)\",\n",
	       rounds);
	printf("      \"columns\": [\"operation\", \"unit\", \"no domain (median)\", \"domain (median)\", "
	       "\"domain / no domain\", \"95%% CI low\", \"95%% CI high\"],\n      \"rows\": [");
	for (int i = 0; i < NR_OPS; i++)
		printf("%s\n        [\"%s\", \"%s\", %.2f, %.2f, %.3f, %.3f, %.3f]",
		       i ? "," : "", ops[i].name, ops[i].unit, med[0][i], med[1][i],
		       mean[i], lo[i], hi[i]);
	printf("\n      ]\n    },\n");
	printf("    {\n      \"title\": \"Switches to the trusted view (/sys/kernel/mm/asi/view_switches, all CPUs; two CR3 writes each) per 1000 operations, per MiB for tcp_stream; -1: the kernel does not count them\",\n");
	printf("      \"columns\": [\"operation\", \"no domain\", \"domain\"],\n      \"rows\": [");
	for (int i = 0; i < NR_OPS; i++)
		printf("%s\n        [\"%s\", %.1f, %.1f]", i ? "," : "",
		       ops[i].name, swk[0][i], swk[1][i]);
	printf("\n      ]\n    },\n");
	printf("    {\n      \"title\": \"Memory per namespace, %d held open\",\n", MEM_NETNS);
	printf("      \"columns\": [\"setting\", \"MemFree drop (KiB)\", "
	       "\"ASI data pages\", \"ASI page-table pages\", "
	       "\"2 MiB pool blocks taken\"],\n      \"rows\": [");
	for (int d = 0; d < 2; d++)
		printf("%s\n        [\"%s\", %.1f, %.2f, %.2f, %.3f]", d ? "," : "",
		       d ? "domain" : "no domain", mem[d].memfree_kib,
		       mem[d].asi_pages, mem[d].asi_pgtables,
		       mem[d].pool_blocks);
	printf("\n      ]\n    }\n  ]\n}\nASI-BENCH-JSON-END\n");
	return 0;
}
