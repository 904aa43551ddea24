// SPDX-License-Identifier: GPL-2.0
/*
 * netns_coverage: how much of a network namespace's kernel memory
 * another container can read, measured (issue 13, item 1).
 *
 * What is attributable to a namespace N is measured, not listed by hand:
 *
 *   (a) allocated while N is created and configured (the window W, traced
 *       system-wide with the kmem and percpu events, a stack for every
 *       allocation, and kprobes on the ASI allocator asi_alloc()/asi_free(),
 *       whose objects no kmem event sees),
 *   (b) still live at the end of W, and
 *   (c) freed while N is torn down (traced again).
 *
 * Only allocations made by N's creator and the processes it starts, by
 * kernel threads and in interrupts count; other processes' (udev handling
 * the veth uevents) are counted apart.  What is live after W but not freed
 * by the teardown (the tracing itself, caches that outlive N) is printed
 * as the residue, so that a wrong attribution shows.  Each object
 * is put in a class by the innermost frame of its stack that a rule
 * names (sk_prot_alloc: socket, alloc_netdev_mqs: net_device, ...); an
 * allocation made inside ops_init() that no other rule names belongs to
 * that pernet_operations (a kprobe on ops_init() names it).
 *
 * Then every page of every attributable object is read, 16 bytes, through
 * /sys/kernel/debug/asi/probe ("read ADDR", copy_from_kernel_nofault())
 * from three contexts: a process bound to another namespace's domain (B,
 * "another container"), a process of N (A: the read must succeed, or the
 * address is not a live mapping of N), and this unbound host process (the
 * trusted view).  An object's bytes are private when B's read of the page
 * faults while A's and the host's succeed.
 *
 * Two namespaces are measured in one boot: one with a domain
 * (kernel.asi_netns=1) and, as the control, one without
 * (kernel.asi_netns=0), where everything must be readable from B.  The
 * run fails if a trace event was lost, if B's faulting reads and the
 * violations the kernel counted for B differ, if nothing is private with
 * a domain or anything is private without one.
 *
 * N's state: lo up, a veth pair (peer in the initial namespace, up, no
 * address), IPv4 and IPv6 addresses, two IPv4 and two IPv6 routes (one
 * `ip -batch`), a TCP listener on IPv4 and on IPv6, a connected TCP pair
 * on 10.0.0.2 with 16 KiB written and not read, a UDP socket with a queued
 * datagram.  The test kernel has no netfilter (00-base.config), so no
 * firewall rule.
 *
 * Not counted: vmalloc'ed memory and pages from the page allocator (TCP
 * payload page fragments, large kvmalloc fallbacks): their events carry no
 * call site.  Per-cpu objects are probed through CPU 0's copy and counted
 * for every possible CPU.  kfree_rcu() frees are seen where they are asked
 * for, through a kprobe on kvfree_call_rcu(): the free itself emits no
 * kmem event (kfree_bulk() on 6.12, an RCU sheaf on 7.x).  Other bulk
 * frees are seen through a kprobe on kmem_cache_free_bulk() (the first
 * 512 pointers of a call).
 *
 * Needs: asi=on, CONFIG_ASI_NETNS_DEBUGFS, kprobe events, `ip`; boot with
 * slab_nomerge so that cache names are the caches' own.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KSFT_SKIP	4
#define TRACEFS		"/sys/kernel/tracing/"
#define PROBE		"/sys/kernel/debug/asi/probe"
#define SYSFS_ASI	"/sys/kernel/mm/asi/"
#define SYSCTL_NETNS	"/proc/sys/kernel/asi_netns"
#define SYSCTL_POLICY	"/proc/sys/kernel/asi_violation"
#define NETNS_FREED	TRACEFS "instances/netns_coverage/"
#define PAGE		4096UL
#define MAX_OBJS	(1 << 19)
#define BATCH		256

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "netns_coverage: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_TRUNC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

static void must_write(const char *path, const char *s)
{
	if (write_file(path, s))
		die("writing '%s' to %s: %s", s, path, strerror(errno));
}

static int read_line(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	char *nl;

	if (!f)
		return -1;
	if (!fgets(buf, size, f)) {
		fclose(f);
		return -1;
	}
	fclose(f);
	nl = strchr(buf, '\n');
	if (nl)
		*nl = '\0';
	return 0;
}

/* ---- object classes ---- */

enum cls {
	C_NET, C_GEN, C_BLOB, C_PERNET, C_NETDEV, C_IPDEV, C_SOCK, C_SKB,
	C_FIB4, C_FIB6, C_NEIGH, C_SYSCTL, C_ASI, C_OTHER, NR_CLS
};

static const char *const cls_name[NR_CLS] = {
	[C_NET]		= "struct net",
	[C_GEN]		= "net->gen",
	[C_BLOB]	= "pernet blobs (ops->size)",
	[C_PERNET]	= "other pernet state (ops->init)",
	[C_NETDEV]	= "net_device (+priv, queues, kobjects)",
	[C_IPDEV]	= "per-device IPv4/IPv6 state, addresses",
	[C_SOCK]	= "sockets (struct sock + protocol part, socket inode)",
	[C_SKB]		= "skbs in flight (heads and linear data)",
	[C_FIB4]	= "IPv4 FIB (tables, trie, aliases, fib_info)",
	[C_FIB6]	= "IPv6 FIB (tables, nodes, fib6_info)",
	[C_NEIGH]	= "neighbours and dst entries",
	[C_SYSCTL]	= "sysctl tables and /proc/net entries",
	[C_ASI]		= "the namespace's ASI domain (overhead)",
	[C_OTHER]	= "other",
};

/*
 * The innermost frame that matches a rule decides the class.  A prefix
 * ending in '=' must match the whole function name.
 */
static const struct rule {
	enum cls cls;
	const char *prefix;
} rules[] = {
	{ C_SKB, "__alloc_skb" }, { C_SKB, "__napi_alloc_skb" },
	{ C_SKB, "alloc_skb_with_frags" }, { C_SKB, "skb_clone" },
	{ C_SKB, "pskb_expand_head" }, { C_SKB, "__netdev_alloc_skb" },
	{ C_SKB, "tcp_stream_alloc_skb" },
	{ C_SOCK, "sk_prot_alloc" }, { C_SOCK, "sk_alloc" },
	{ C_SOCK, "sk_clone_lock" }, { C_SOCK, "inet_reqsk_alloc" },
	{ C_SOCK, "reqsk_alloc" }, { C_SOCK, "sock_alloc_inode" },
	{ C_SOCK, "sock_alloc=" }, { C_SOCK, "inet_csk_clone_lock" },
	{ C_SOCK, "sock_alloc_file" }, { C_SOCK, "sock_map_fd" },
	{ C_SOCK, "do_accept" }, { C_SOCK, "inet_bind" },
	{ C_SOCK, "inet_csk_get_port" }, { C_SOCK, "__inet_hash_connect" },
	{ C_NETDEV, "alloc_netdev_mqs" }, { C_NETDEV, "netif_alloc_rx_queues" },
	{ C_NETDEV, "netif_alloc_netdev_queues" },
	{ C_NETDEV, "register_netdevice" }, { C_NETDEV, "netdev_register_kobject" },
	{ C_NETDEV, "veth_" }, { C_NETDEV, "qdisc_" }, { C_NETDEV, "dev_activate" },
	{ C_IPDEV, "inetdev_init" }, { C_IPDEV, "inet_alloc_ifa" },
	{ C_IPDEV, "ipv6_add_dev" }, { C_IPDEV, "ipv6_add_addr" },
	{ C_IPDEV, "devinet_sysctl_register" }, { C_IPDEV, "addrconf_sysctl_register" },
	{ C_IPDEV, "__inet_insert_ifa" }, { C_IPDEV, "inet6_addr_add" },
	{ C_IPDEV, "__ipv6_dev_mc_inc" }, { C_IPDEV, "ipv6_dev_mc_inc" },
	{ C_IPDEV, "ip_mc_" }, { C_IPDEV, "igmp6_" },
	{ C_FIB6, "fib6_" }, { C_FIB6, "ip6_route_" }, { C_FIB6, "rt6_" },
	{ C_FIB6, "ip6_ins_rt" }, { C_FIB6, "addrconf_f6i_alloc" },
	{ C_FIB6, "ip6_dst_alloc" }, { C_FIB6, "fib6_rules_net_init" },
	{ C_FIB4, "fib_" }, { C_FIB4, "ip_fib_" }, { C_FIB4, "fib4_" },
	{ C_FIB4, "inet_rtm_newroute" }, { C_FIB4, "leaf_new" },
	{ C_FIB4, "tnode_new" }, { C_FIB4, "nexthop_" },
	{ C_NEIGH, "neigh_" }, { C_NEIGH, "__neigh_" }, { C_NEIGH, "___neigh_" },
	{ C_NEIGH, "dst_alloc" },
	{ C_NEIGH, "rt_dst_alloc" },
	{ C_SYSCTL, "register_net_sysctl" }, { C_SYSCTL, "__register_sysctl_table" },
	{ C_SYSCTL, "proc_create" }, { C_SYSCTL, "proc_mkdir" },
	{ C_SYSCTL, "proc_net_" }, { C_SYSCTL, "__proc_create" },
	{ C_GEN, "net_alloc_generic" }, { C_GEN, "net_assign_generic" },
	{ C_ASI, "net_asi_create" }, { C_ASI, "asi_domain_create" },
};

/* Allocator and tracing frames, skipped to find the call site. */
static const char *const skip_prefix[] = {
	"kmalloc", "__kmalloc", "kmem_cache_alloc", "__kmem_cache", "kvmalloc",
	"__kvmalloc", "kzalloc", "kvzalloc", "krealloc", "__krealloc",
	"kmemdup", "kstrdup", "kvmemdup", "pcpu_", "__alloc_percpu",
	"alloc_percpu", "slab_", "___slab", "__slab", "trace", "__trace",
	"event_", "ftrace", "stack_trace", "__ftrace", "kmalloc_trace",
	"stacktrace",
	"__do_kmalloc", "kmalloc_large", "__kmalloc_large",
};

static bool is_alloc_frame(const char *f)
{
	for (size_t i = 0; i < sizeof(skip_prefix) / sizeof(*skip_prefix); i++)
		if (!strncmp(f, skip_prefix[i], strlen(skip_prefix[i])))
			return true;
	return false;
}

static bool rule_match(const char *f, const char *prefix)
{
	size_t n = strlen(prefix);

	if (prefix[n - 1] == '=')
		return strlen(f) == n - 1 && !strncmp(f, prefix, n - 1);
	return !strncmp(f, prefix, n);
}

/* ---- objects ---- */

enum kind { K_SLAB, K_PERCPU, K_ASI };

struct obj {
	unsigned long ptr;
	unsigned long req, alloc;	/* bytes asked for, bytes taken */
	enum kind kind;
	enum cls cls;
	char site[48];			/* first non-allocator frame */
	char ops[48];			/* pernet_operations, inside ops_init() */
	char cache[32];
	char comm[16];			/* the task that allocated it */
	bool live;			/* not freed in W */
	bool freed;			/* freed in the teardown */
	bool in_ops;
	/* probe results, in bytes of the object */
	unsigned long priv, readable, unmapped;
};

static struct obj *objs;
static size_t nr_objs;

/* ptr -> index of the live object; open addressing, 2^21 slots */
#define HBITS	21
static long *htab;

static size_t hslot(unsigned long ptr, enum kind k)
{
	unsigned long h = (ptr ^ ((unsigned long)k << 60)) * 0x9E3779B97F4A7C15UL;

	return h >> (64 - HBITS);
}

static long *hfind(unsigned long ptr, enum kind k, bool insert)
{
	size_t i = hslot(ptr, k);

	for (;;) {
		long *e = &htab[i];

		if (*e == -1)
			return insert ? e : NULL;
		if (*e >= 0 && objs[*e].ptr == ptr && objs[*e].kind == k)
			return e;
		i = (i + 1) & ((1UL << HBITS) - 1);
	}
}

static void hclear(void)
{
	memset(htab, 0xff, sizeof(long) << HBITS);	/* every slot -1 */
}

/* Deleted slots are -2 so that probing goes on past them. */
static void hdel(long *e)
{
	*e = -2;
}

/* ---- the trace ---- */

struct pidops {
	int pid;
	char ops[48];
};

static struct pidops pidops[64];

static char *pid_ops(int pid, bool create)
{
	for (int i = 0; i < 64; i++)
		if (pidops[i].pid == pid)
			return pidops[i].ops;
	if (!create)
		return NULL;
	for (int i = 0; i < 64; i++)
		if (!pidops[i].pid) {
			pidops[i].pid = pid;
			return pidops[i].ops;
		}
	return NULL;
}

static void pid_ops_clear(int pid)
{
	for (int i = 0; i < 64; i++)
		if (pidops[i].pid == pid)
			pidops[i].pid = 0;
}

/*
 * Whose allocations count: A's process tree (A, the shell and `ip` it
 * starts), kernel threads (kworkers run setup_net() for a bound creator,
 * addrconf work, cleanup_net()), and interrupts (softirqs deliver N's
 * packets).  Other processes (udev reacting to the veth uevents, the
 * guest's agent) are the host's and are only counted in the checks.
 */
static int tree[1024], nr_tree;

static bool in_tree(int pid)
{
	for (int i = 0; i < nr_tree; i++)
		if (tree[i] == pid)
			return true;
	return false;
}

static void tree_add(int pid)
{
	if (nr_tree < 1024 && !in_tree(pid))
		tree[nr_tree++] = pid;
}

static bool kernel_thread(const char *comm)
{
	static const char *const kthreads[] = {
		"kworker/", "ksoftirqd/", "rcu", "kthreadd", "<idle>", "swapper",
		"migration/", "cpuhp/", "netns", "kcompactd", "kswapd",
	};

	for (size_t i = 0; i < sizeof(kthreads) / sizeof(*kthreads); i++)
		if (!strncmp(comm, kthreads[i], strlen(kthreads[i])))
			return true;
	return false;
}

static unsigned long field(const char *line, const char *key, int base)
{
	const char *p = strstr(line, key);

	return p ? strtoul(p + strlen(key), NULL, base) : 0;
}

static void field_str(const char *line, const char *key, char *out, size_t n)
{
	const char *p = strstr(line, key);
	size_t i = 0;

	out[0] = '\0';
	if (!p)
		return;
	p += strlen(key);
	while (p[i] && p[i] != ' ' && p[i] != '+' && p[i] != '\n' && i + 1 < n) {
		out[i] = p[i];
		i++;
	}
	out[i] = '\0';
}

struct stats {
	unsigned long events, allocs, frees, bulk_frees, bulk_truncated;
	unsigned long host_allocs, host_bytes;	/* other processes: not counted */
	unsigned long rcu_frees;		/* kfree_rcu() calls */
	unsigned long replaced;		/* alloc of a ptr still live: a free was missed */
};

static void free_ptr(unsigned long ptr, enum kind k, bool teardown,
		     const char *cache, struct stats *st)
{
	long *e = hfind(ptr, k, false);

	if (!e)
		return;
	if (teardown) {
		objs[*e].freed = true;
		if (cache && cache[0] && !objs[*e].cache[0])
			snprintf(objs[*e].cache, sizeof(objs[*e].cache), "%s", cache);
	} else {
		objs[*e].live = false;
	}
	hdel(e);
	st->frees++;
}

/*
 * Parse the header of a trace line: pid, cpu and the event name.  Returns
 * a pointer to the event's fields, or NULL for a line that is not an event.
 */
static char *parse_head(char *line, int *pid, int *cpu, char *ev, size_t evn,
			char *comm, size_t commn, bool *irq)
{
	char *br = strstr(line, "] ");
	char *p, *colon;
	size_t n;

	if (!br)
		return NULL;
	p = br;
	while (p > line && *p != '[')
		p--;
	if (*p != '[')
		return NULL;
	*cpu = atoi(p + 1);
	while (p > line && p[-1] == ' ')
		p--;
	while (p > line && isdigit((unsigned char)p[-1]))
		p--;
	*pid = atoi(p);
	/* "comm-pid": the comm may hold '-' and spaces, not the pid */
	{
		char *start = line, *dash = p - 1;
		size_t n;

		while (*start == ' ')
			start++;
		n = dash > start ? (size_t)(dash - start) : 0;
		if (n >= commn)
			n = commn - 1;
		memcpy(comm, start, n);
		comm[n] = '\0';
	}
	/* "flags timestamp: event: fields"; flags[2] is h/s/H/z/Z in irq context */
	*irq = br[2] && br[3] && br[4] && br[4] != '.';
	colon = strstr(br, ": ");
	if (!colon)
		return NULL;
	p = colon + 2;
	colon = strstr(p, ": ");
	if (!colon) {
		/* "<stack trace>" has no fields */
		n = strcspn(p, "\n");
		if (n >= evn)
			n = evn - 1;
		memcpy(ev, p, n);
		ev[n] = '\0';
		return p + n;
	}
	n = colon - p;
	if (n >= evn)
		n = evn - 1;
	memcpy(ev, p, n);
	ev[n] = '\0';
	return colon + 2;
}

static void classify(struct obj *o, char frames[][48], int nr)
{
	bool site_set = false;

	o->cls = C_OTHER;
	for (int i = 0; i < nr; i++) {
		if (is_alloc_frame(frames[i]))
			continue;
		if (!site_set) {
			snprintf(o->site, sizeof(o->site), "%s", frames[i]);
			site_set = true;
			if (!strcmp(frames[i], "copy_net_ns") && o->kind == K_SLAB) {
				o->cls = C_NET;
				return;
			}
			if (!strcmp(frames[i], "ops_init") && o->in_ops) {
				o->cls = C_BLOB;
				return;
			}
		}
		for (size_t r = 0; r < sizeof(rules) / sizeof(*rules); r++)
			if (rule_match(frames[i], rules[r].prefix)) {
				o->cls = rules[r].cls;
				return;
			}
	}
	if (o->in_ops)
		o->cls = C_PERNET;
}

/*
 * Read the trace.  In the window (teardown false) record allocations and
 * frees; in the teardown mark the live objects that are freed.
 */
static void read_trace(bool teardown, struct stats *st)
{
	static char frames_buf[64][64][48];	/* per CPU, up to 64 frames */
	static int nr_frames[64];
	static long last_obj[64];		/* per CPU: object awaiting its stack */
	FILE *f = fopen(TRACEFS "trace", "r");
	char line[4096], ev[64], cache[32], comm[16];
	int pid, cpu = 0, stack_cpu = -1;
	bool irq;

	if (!f)
		die("open %strace: %s", TRACEFS, strerror(errno));
	for (int i = 0; i < 64; i++)
		last_obj[i] = -1;

	while (fgets(line, sizeof(line), f)) {
		char *fl;

		if (line[0] == '#')
			continue;
		if (!strncmp(line, " => ", 4)) {
			char *s = line + 4;
			size_t n = strcspn(s, "+ \n");

			if (stack_cpu < 0 || nr_frames[stack_cpu] >= 64)
				continue;
			if (n >= 48)
				n = 47;
			memcpy(frames_buf[stack_cpu][nr_frames[stack_cpu]], s, n);
			frames_buf[stack_cpu][nr_frames[stack_cpu]++][n] = '\0';
			continue;
		}
		/* A stack ends where the next line of any kind starts. */
		if (stack_cpu >= 0 && last_obj[stack_cpu] >= 0) {
			classify(&objs[last_obj[stack_cpu]], frames_buf[stack_cpu],
				 nr_frames[stack_cpu]);
			last_obj[stack_cpu] = -1;
		}
		stack_cpu = -1;
		fl = parse_head(line, &pid, &cpu, ev, sizeof(ev), comm, sizeof(comm),
				&irq);
		if (!fl || cpu < 0 || cpu >= 64)
			continue;
		st->events++;
		if (!strcmp(ev, "<stack trace>")) {
			stack_cpu = cpu;
			nr_frames[cpu] = 0;
			continue;
		}

		if (!strcmp(ev, "sched_process_fork")) {
			if (in_tree(pid))
				tree_add(field(fl, "child_pid=", 10));
			continue;
		}
		if (!strcmp(ev, "nsasi_ops")) {
			char *o = pid_ops(pid, true);

			if (o)
				field_str(fl, "ops=", o, 48);
			continue;
		}
		if (!strcmp(ev, "nsasi_ops_ret")) {
			pid_ops_clear(pid);
			continue;
		}
		if (!strcmp(ev, "kfree") || !strcmp(ev, "kmem_cache_free")) {
			field_str(fl, "name=", cache, sizeof(cache));
			free_ptr(field(fl, "ptr=", 16), K_SLAB, teardown, cache, st);
			continue;
		}
		if (!strcmp(ev, "percpu_free_percpu")) {
			free_ptr(field(fl, " ptr=", 16), K_PERCPU, teardown, NULL, st);
			continue;
		}
		/*
		 * kfree_rcu(): the object is gone for the namespace now; it is
		 * freed after a grace period through kfree_bulk() (6.12) or an
		 * RCU sheaf (7.x), which emits no kmem event at all.
		 */
		if (!strcmp(ev, "nsasi_kfree_rcu")) {
			free_ptr(field(fl, "ptr=", 16), K_SLAB, teardown, NULL, st);
			st->rcu_frees++;
			continue;
		}
		if (!strcmp(ev, "nsasi_free")) {
			free_ptr(field(fl, "ptr=", 16), K_ASI, teardown, NULL, st);
			continue;
		}
		if (!strncmp(ev, "nsasi_kfb", 9)) {
			/* kmem_cache_free_bulk(s, n, p): p[base .. base + 63] */
			unsigned long n = field(fl, "n=", 10);
			unsigned long base = 64 * strtoul(ev + 9, NULL, 10);
			char *p = strchr(fl, '{');

			for (unsigned long i = base; p && i < n && i < base + 64; i++) {
				free_ptr(strtoul(p + 1, &p, 16), K_SLAB, teardown,
					 NULL, st);
				st->bulk_frees++;
			}
			if (base == 448 && n > 512)
				st->bulk_truncated += n - 512;
			continue;
		}
		if (teardown)
			continue;

		{
			enum kind k;
			unsigned long ptr, req, alloc;
			long *e;
			struct obj *o;
			char *ops;

			if (!strcmp(ev, "kmalloc") || !strcmp(ev, "kmem_cache_alloc")) {
				k = K_SLAB;
				ptr = field(fl, "ptr=", 16);
				req = field(fl, "bytes_req=", 10);
				alloc = field(fl, "bytes_alloc=", 10);
			} else if (!strcmp(ev, "percpu_alloc_percpu")) {
				k = K_PERCPU;
				ptr = field(fl, " ptr=", 16);
				req = field(fl, " size=", 10);
				alloc = field(fl, "bytes_alloc=", 10);
			} else if (!strcmp(ev, "nsasi_alloc")) {
				k = K_ASI;
				ptr = field(fl, "ptr=0x", 16);
				req = alloc = field(fl, "size=", 10);
			} else {
				continue;
			}
			if (!ptr)
				continue;
			if (!irq && !in_tree(pid) && !kernel_thread(comm)) {
				st->host_allocs++;
				st->host_bytes += k == K_PERCPU ? alloc : req;
				continue;
			}
			if (nr_objs == MAX_OBJS)
				die("more than %d allocations in the window", MAX_OBJS);
			e = hfind(ptr, k, true);
			if (*e >= 0) {
				objs[*e].live = false;	/* its free was not traced */
				st->replaced++;
			} else {
				e = hfind(ptr, k, true);
			}
			o = &objs[nr_objs];
			memset(o, 0, sizeof(*o));
			o->ptr = ptr;
			o->req = req;
			o->alloc = alloc;
			o->kind = k;
			o->live = true;
			o->cls = C_OTHER;
			snprintf(o->comm, sizeof(o->comm), "%s", comm);
			if (k == K_SLAB && !strcmp(ev, "kmalloc"))
				snprintf(o->cache, sizeof(o->cache), "kmalloc-%lu", alloc);
			ops = pid_ops(pid, false);
			if (ops && ops[0]) {
				o->in_ops = true;
				snprintf(o->ops, sizeof(o->ops), "%s", ops);
			}
			if (k == K_ASI) {
				/* The kretprobe has no stack: it is a pernet blob. */
				snprintf(o->site, sizeof(o->site), "asi_alloc");
				o->cls = o->in_ops ? C_BLOB : C_OTHER;
				snprintf(o->cache, sizeof(o->cache), "asi window");
			} else {
				last_obj[cpu] = nr_objs;
			}
			*e = nr_objs++;
			st->allocs++;
		}
	}
	if (stack_cpu >= 0 && last_obj[stack_cpu] >= 0)
		classify(&objs[last_obj[stack_cpu]], frames_buf[stack_cpu],
			 nr_frames[stack_cpu]);
	fclose(f);
}

static unsigned long trace_overruns(void)
{
	unsigned long total = 0;
	char path[128], line[128];

	for (int cpu = 0; cpu < 64; cpu++) {
		FILE *f;

		snprintf(path, sizeof(path), TRACEFS "per_cpu/cpu%d/stats", cpu);
		f = fopen(path, "r");
		if (!f)
			break;
		while (fgets(line, sizeof(line), f))
			if (!strncmp(line, "overrun:", 8))
				total += strtoul(line + 8, NULL, 10);
		fclose(f);
	}
	return total;
}

static const char *const events[] = {
	"kmem/kmalloc", "kmem/kmem_cache_alloc", "kmem/kfree",
	"kmem/kmem_cache_free", "percpu/percpu_alloc_percpu",
	"percpu/percpu_free_percpu", "sched/sched_process_fork",
};

static void tracing_setup(void)
{
	static const char *const kprobes[] = {
		"r:nsasi/nsasi_alloc asi_alloc ptr=$retval:x64 size=$arg2:u64",
		"p:nsasi/nsasi_free asi_free ptr=$arg1:x64",
		"p:nsasi/nsasi_ops ops_init ops=$arg1:symbol",
		"r:nsasi/nsasi_ops_ret ops_init ret=$retval:s32",
		"p:nsasi/nsasi_kfree_rcu kvfree_call_rcu ptr=$arg2:x64",
	};
	char path[160], probe[256];
	int fd;

	if (access(TRACEFS "trace", F_OK))
		mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL);
	if (access(TRACEFS "kprobe_events", F_OK))
		die("no %skprobe_events (CONFIG_KPROBE_EVENTS)", TRACEFS);
	must_write(TRACEFS "tracing_on", "0");
	must_write(TRACEFS "buffer_size_kb", "98304");
	must_write(TRACEFS "options/overwrite", "0");
	write_file(TRACEFS "options/hash-ptr", "0");
	must_write(TRACEFS "kprobe_events", "");
	fd = open(TRACEFS "kprobe_events", O_WRONLY | O_APPEND);
	if (fd < 0)
		die("open kprobe_events: %s", strerror(errno));
	for (int i = 0; i < 13; i++) {
		if (i < 5)
			snprintf(probe, sizeof(probe), "%s", kprobes[i]);
		else
			snprintf(probe, sizeof(probe),
				 "p:nsasi/nsasi_kfb%d kmem_cache_free_bulk n=$arg2:u64 p=+%d($arg3):x64[64]",
				 i - 5, (i - 5) * 512);
		if (write(fd, probe, strlen(probe)) != (ssize_t)strlen(probe))
			die("adding kprobe event '%s': %s", probe, strerror(errno));
	}
	close(fd);
	for (size_t i = 0; i < sizeof(events) / sizeof(*events); i++) {
		snprintf(path, sizeof(path), TRACEFS "events/%s/enable", events[i]);
		must_write(path, "1");
	}
	must_write(TRACEFS "events/nsasi/enable", "1");
	if (mkdir(TRACEFS "instances/netns_coverage", 0700) && errno != EEXIST)
		die("mkdir %s: %s", NETNS_FREED, strerror(errno));
	must_write(NETNS_FREED "events/kmem/kmem_cache_free/filter",
		   "name == \"net_namespace\"");
	must_write(NETNS_FREED "events/kmem/kmem_cache_free/enable", "1");
	write_file(NETNS_FREED "options/hash-ptr", "0");
}

/* Stacks for allocations only: a trigger on each allocation event. */
static void stacks(bool on)
{
	const char *alloc_ev[] = { "kmem/kmalloc", "kmem/kmem_cache_alloc",
				   "percpu/percpu_alloc_percpu" };
	char path[160];

	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), TRACEFS "events/%s/trigger", alloc_ev[i]);
		must_write(path, on ? "stacktrace" : "!stacktrace");
	}
}

static void tracing_teardown(void)
{
	char path[160];

	write_file(TRACEFS "tracing_on", "0");
	for (size_t i = 0; i < sizeof(events) / sizeof(*events); i++) {
		snprintf(path, sizeof(path), TRACEFS "events/%s/enable", events[i]);
		write_file(path, "0");
	}
	write_file(TRACEFS "events/nsasi/enable", "0");
	write_file(TRACEFS "kprobe_events", "");
	write_file(TRACEFS "buffer_size_kb", "1408");
	write_file(TRACEFS "trace", "");
	rmdir(TRACEFS "instances/netns_coverage");
}

/* ---- readers: a process that answers "read" probes over pipes ---- */

struct reader {
	pid_t pid;
	int req, resp;
};

/*
 * One "read ADDR" through the probe file fd: the answer goes to ans
 * ("read=ok data=<32 hex digits>" or "read=fault err=-14").  False if the
 * probe itself failed.
 */
static bool probe_read(int fd, unsigned long addr, char *ans, size_t size)
{
	char cmd[48];
	ssize_t r;

	snprintf(cmd, sizeof(cmd), "read %lx", addr);
	if (write(fd, cmd, strlen(cmd)) < 0)
		return false;
	r = pread(fd, ans, size - 1, 0);
	if (r <= 0)
		return false;
	ans[r] = '\0';
	return true;
}

/* Answer batches: n addresses in, n result bytes out (1 read, 0 fault). */
static void reader_loop(int fd, int in, int out)
{
	unsigned long addr[BATCH];
	char res[BATCH], ans[192];
	unsigned long n;

	if (fd < 0)
		_exit(2);
	while (read(in, &n, sizeof(n)) == sizeof(n) && n <= BATCH) {
		if (read(in, addr, n * sizeof(*addr)) != (ssize_t)(n * sizeof(*addr)))
			_exit(3);
		for (unsigned long i = 0; i < n; i++)
			res[i] = probe_read(fd, addr[i], ans, sizeof(ans)) &&
				 !strncmp(ans, "read=ok", 7);
		if (write(out, res, n) != (ssize_t)n)
			_exit(4);
	}
	_exit(0);
}

static void reader_start(struct reader *r, void (*setup)(void))
{
	int a[2], b[2];

	if (pipe(a) || pipe(b))
		die("pipe: %s", strerror(errno));
	r->pid = fork();
	if (r->pid < 0)
		die("fork: %s", strerror(errno));
	if (!r->pid) {
		close(a[1]);
		close(b[0]);
		if (setup)
			setup();
		reader_loop(open(PROBE, O_RDWR), a[0], b[1]);
	}
	close(a[0]);
	close(b[1]);
	r->req = a[1];
	r->resp = b[0];
}

static void reader_ask(struct reader *r, const unsigned long *addr, size_t n,
		       char *res)
{
	unsigned long len = n;

	if (write(r->req, &len, sizeof(len)) != sizeof(len) ||
	    write(r->req, addr, n * sizeof(*addr)) != (ssize_t)(n * sizeof(*addr)))
		die("reader %d: write: %s", r->pid, strerror(errno));
	for (size_t got = 0; got < n;) {
		ssize_t k = read(r->resp, res + got, n - got);

		if (k <= 0)
			die("reader %d died", r->pid);
		got += k;
	}
}

static void reader_stop(struct reader *r)
{
	close(r->req);
	close(r->resp);
	kill(r->pid, SIGKILL);
	waitpid(r->pid, NULL, 0);
}

static void setup_other_domain(void)
{
	if (unshare(CLONE_NEWNET))
		_exit(5);
}

/* ---- the namespace ---- */

static const char ip_batch[] =
	"link set lo up\n"
	"link add veth0 type veth peer name vh0 netns 1\n"
	"addr add 10.0.0.2/24 dev veth0\n"
	"addr add fd00::2/64 dev veth0 nodad\n"
	"link set veth0 up\n"
	"route add 10.1.0.0/16 dev veth0\n"
	"route add 10.2.0.0/16 dev veth0\n"
	"route add fd01::/64 dev veth0\n"
	"route add fd02::/64 dev veth0\n";

static int tcp_listen(int family, int port)
{
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(family, SOCK_STREAM, 0);
	int one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET) {
		inet_pton(AF_INET, "10.0.0.2", &a4.sin_addr);
		if (bind(fd, (void *)&a4, sizeof(a4)))
			return -1;
	} else if (bind(fd, (void *)&a6, sizeof(a6))) {
		return -1;
	}
	return listen(fd, 8) ? -1 : fd;
}

/*
 * Child A: enter a new namespace, configure it, report ready on `ready`,
 * then answer probes as a process of N until killed.
 */
static void namespace_child(int ready, int in, int out)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(5000) };
	char buf[16384], cmd[128];
	int l4, l6, c, s, u;
	int probe = open(PROBE, O_RDWR);	/* before W: not N's */
	FILE *f;

	if (read(in, buf, 1) != 1)	/* W has started */
		_exit(9);
	if (unshare(CLONE_NEWNET))
		_exit(10);
	f = fopen("/tmp/netns_coverage.ip", "w");
	if (!f || fputs(ip_batch, f) < 0 || fclose(f))
		_exit(11);
	snprintf(cmd, sizeof(cmd), "ip -batch /tmp/netns_coverage.ip");
	if (system(cmd))
		_exit(12);
	l4 = tcp_listen(AF_INET, 5000);
	l6 = tcp_listen(AF_INET6, 5001);
	c = socket(AF_INET, SOCK_STREAM, 0);
	inet_pton(AF_INET, "10.0.0.2", &a.sin_addr);
	if (l4 < 0 || l6 < 0 || c < 0 || connect(c, (void *)&a, sizeof(a)))
		_exit(13);
	s = accept(l4, NULL, NULL);
	memset(buf, 'N', sizeof(buf));
	if (s < 0 || write(c, buf, sizeof(buf)) != sizeof(buf))
		_exit(14);
	u = socket(AF_INET, SOCK_DGRAM, 0);
	a.sin_port = htons(5002);
	if (u < 0 || bind(u, (void *)&a, sizeof(a)) ||
	    sendto(u, buf, 512, 0, (void *)&a, sizeof(a)) != 512)
		_exit(15);
	if (write(ready, "R", 1) != 1)
		_exit(16);
	close(ready);
	reader_loop(probe, in, out);
}

/*
 * cleanup_net() runs in a kworker some time after the last process of N
 * is gone, and frees struct net only at the start of the next cleanup
 * round (net_complete_free()).  So: start throwaway namespaces (without a
 * domain) until a trace instance of our own, which records only frees of
 * net_namespace objects, shows N's struct net freed.
 */
static void wait_netns_freed(unsigned long net, const char *what)
{
	char line[512], want[64];

	snprintf(want, sizeof(want), "ptr=%016lx", net);
	for (int i = 0; i < 90; i++) {
		FILE *f;
		pid_t pid;

		must_write(SYSCTL_NETNS, "0");
		pid = fork();
		if (!pid)
			_exit(unshare(CLONE_NEWNET) ? 1 : 0);
		if (pid < 0 || waitpid(pid, NULL, 0) != pid)
			die("throwaway namespace: %s", strerror(errno));
		sleep(1);
		f = fopen(NETNS_FREED "trace", "r");
		if (!f)
			die("open %strace: %s", NETNS_FREED, strerror(errno));
		while (fgets(line, sizeof(line), f))
			if (line[0] != '#' && strstr(line, want)) {
				fclose(f);
				return;
			}
		fclose(f);
	}
	die("%s: struct net %lx not freed within 90 cleanup rounds", what, net);
}

/* ---- probing ---- */

static unsigned long pcpu_off0;

/* Read every page of every live object from B, A and the host. */
static unsigned long probe_all(struct reader *b, struct reader *a,
			       struct reader *host)
{
	unsigned long b_faults = 0;
	static unsigned long addr[BATCH];
	static size_t owner[BATCH];
	static unsigned long len[BATCH];
	static char rb[BATCH], ra[BATCH], rh[BATCH];
	size_t n = 0;

	for (size_t i = 0; i <= nr_objs; i++) {
		struct obj *o = i < nr_objs ? &objs[i] : NULL;

		if (o && o->live) {
			unsigned long base = o->ptr + (o->kind == K_PERCPU ? pcpu_off0 : 0);
			unsigned long end = base + (o->req ? o->req : 1);
			unsigned long per_obj = o->kind == K_PERCPU ? o->alloc : o->req;

			for (unsigned long p = base; p < end;) {
				unsigned long next = (p & ~(PAGE - 1)) + PAGE;
				unsigned long at = p;

				if (next > end)
					next = end;
				if ((at & (PAGE - 1)) > PAGE - 16)
					at = (at & ~(PAGE - 1)) + PAGE - 16;
				addr[n] = at;
				owner[n] = i;
				/* percpu: every CPU's copy counts with CPU 0's page */
				len[n] = o->kind == K_PERCPU ?
					 per_obj * (next - p) / (end - base) : next - p;
				n++;
				p = next;
				if (n == BATCH)
					break;
			}
		}
		if (n && (n == BATCH || !o)) {
			reader_ask(b, addr, n, rb);
			reader_ask(a, addr, n, ra);
			reader_ask(host, addr, n, rh);
			for (size_t j = 0; j < n; j++) {
				struct obj *x = &objs[owner[j]];

				if (!rb[j] && rh[j])
					b_faults++;
				if (!rh[j] || !ra[j])
					x->unmapped += len[j];
				else if (rb[j])
					x->readable += len[j];
				else
					x->priv += len[j];
			}
			n = 0;
		}
	}
	return b_faults;
}

/* ---- report ---- */

struct sum {
	unsigned long objs, bytes, alloc, priv, readable, unmapped;
};

static void add(struct sum *s, const struct obj *o)
{
	s->objs++;
	s->bytes += o->kind == K_PERCPU ? o->alloc : o->req;
	s->alloc += o->alloc;
	s->priv += o->priv;
	s->readable += o->readable;
	s->unmapped += o->unmapped;
}

struct phase {
	const char *name;
	struct sum cls[NR_CLS], total, residue;
	struct stats st, st_td;
	unsigned long overruns;
	long violations;
	unsigned long faulting_reads;
	/* per pernet_operations */
	int nr_ops;
	char ops[160][48];
	struct sum ops_sum[160];
	/* top call sites of "other", and of the residue */
	int nr_sites;
	char sites[400][48];
	struct sum site_sum[400];
	int nr_res;
	char res[400][48];
	struct sum res_sum[400];
};

static struct phase phases[2];

static struct sum *named(char names[][48], struct sum *sums, int *nr, int max,
			 const char *name)
{
	for (int i = 0; i < *nr; i++)
		if (!strcmp(names[i], name))
			return &sums[i];
	if (*nr == max)
		return NULL;
	snprintf(names[*nr], 48, "%s", name);
	memset(&sums[*nr], 0, sizeof(sums[*nr]));
	return &sums[(*nr)++];
}

static void summarize(struct phase *ph)
{
	for (size_t i = 0; i < nr_objs; i++) {
		struct obj *o = &objs[i];
		struct sum *s;

		if (!o->live)
			continue;
		if (!o->freed) {
			char key[48];

			add(&ph->residue, o);
			snprintf(key, sizeof(key), "%.29s (%s)", o->site, o->comm);
			s = named(ph->res, ph->res_sum, &ph->nr_res, 400, key);
			if (s)
				add(s, o);
			continue;
		}
		add(&ph->cls[o->cls], o);
		if (o->cls != C_ASI)
			add(&ph->total, o);
		if (o->cls == C_BLOB || o->cls == C_PERNET) {
			s = named(ph->ops, ph->ops_sum, &ph->nr_ops, 160,
				  o->ops[0] ? o->ops : "(unknown)");
			if (s)
				add(s, o);
		}
		if (o->cls == C_OTHER) {
			char key[48];

			snprintf(key, sizeof(key), "%.29s (%s)", o->site, o->comm);
			s = named(ph->sites, ph->site_sum, &ph->nr_sites, 400, key);
			if (s)
				add(s, o);
		}
	}
}

static double pct(unsigned long a, unsigned long b)
{
	return b ? 100.0 * a / b : 0;
}

static void print_row(const char *name, const struct sum *s, bool *first)
{
	printf("%s\n        [\"%s\", %lu, %lu, %lu, %lu, %lu, %.1f]", *first ? "" : ",",
	       name, s->objs, s->bytes, s->priv, s->readable, s->unmapped,
	       pct(s->priv, s->bytes));
	*first = false;
}

/* The opening of a table of sums, whose first column is `what`. */
static void print_sum_table_head(const char *what)
{
	printf("      \"columns\": [\"%s\", \"objects\", \"bytes\", \"private bytes\", "
	       "\"readable from another domain\", \"not mapped (skipped)\", \"%% private\"],\n"
	       "      \"rows\": [", what);
}

static int cmp_sum_desc(const void *a, const void *b)
{
	const struct sum *x = a, *y = b;

	return x->bytes < y->bytes ? 1 : x->bytes > y->bytes ? -1 : 0;
}

static void print_phase_text(const struct phase *ph)
{
	printf("\n== %s ==\n", ph->name);
	printf("%-55s %7s %9s %9s %9s\n", "class", "objects", "bytes", "private",
	       "readable");
	for (int c = 0; c < NR_CLS; c++)
		printf("%-55s %7lu %9lu %9lu %9lu\n", cls_name[c], ph->cls[c].objs,
		       ph->cls[c].bytes, ph->cls[c].priv, ph->cls[c].readable);
	printf("total (without the ASI overhead): %lu of %lu bytes private (%.2f%%), %lu readable from another domain\n",
	       ph->total.priv, ph->total.bytes, pct(ph->total.priv, ph->total.bytes),
	       ph->total.readable);
	printf("residue (live after the window, not freed by the teardown): %lu objects, %lu bytes\n",
	       ph->residue.objs, ph->residue.bytes);
	printf("trace: %lu + %lu events, %lu allocations, %lu bulk frees (%lu beyond 512 per call missed), %lu re-allocated live pointers, %lu overruns\n",
	       ph->st.events, ph->st_td.events, ph->st.allocs,
	       ph->st.bulk_frees + ph->st_td.bulk_frees,
	       ph->st.bulk_truncated + ph->st_td.bulk_truncated, ph->st.replaced,
	       ph->overruns);
	printf("violations counted for B: %ld; faulting reads from B: %lu\n",
	       ph->violations, ph->faulting_reads);
}

/* ---- one phase ---- */

static long violations_of_b(pid_t b)
{
	char path[64], line[128];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/net/asi", b);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "violations ", 11))
			v = strtol(line + 11, NULL, 10);
	fclose(f);
	return v;
}

static void run_phase(struct phase *ph, bool domain, struct reader *b,
		      struct reader *host)
{
	unsigned long net = 0;
	long v0;
	int ready[2], in[2], out[2];
	struct reader a;
	char c;

	must_write(SYSCTL_NETNS, domain ? "1" : "0");
	nr_objs = 0;
	hclear();
	memset(pidops, 0, sizeof(pidops));
	must_write(TRACEFS "trace", "");
	stacks(true);

	/*
	 * W: create and configure N.  A is forked before W, so that its own
	 * task, mm and files are not counted: A lives until the teardown.
	 */
	if (pipe(ready) || pipe(in) || pipe(out))
		die("pipe: %s", strerror(errno));
	a.pid = fork();
	if (a.pid < 0)
		die("fork: %s", strerror(errno));
	if (!a.pid) {
		close(ready[0]);
		close(in[1]);
		close(out[0]);
		namespace_child(ready[1], in[0], out[1]);
	}
	close(ready[1]);
	close(in[0]);
	close(out[1]);
	a.req = in[1];
	a.resp = out[0];
	nr_tree = 0;
	tree_add(a.pid);
	must_write(TRACEFS "tracing_on", "1");
	if (write(a.req, "G", 1) != 1 || read(ready[0], &c, 1) != 1) {
		int status = 0;

		waitpid(a.pid, &status, 0);
		die("the namespace child failed (exit %d: 9 pipe, 10 unshare, 12 ip, 13-15 sockets)",
		    WEXITSTATUS(status));
	}
	close(ready[0]);
	if (system("ip link set vh0 up"))
		die("ip link set vh0 up failed");
	sleep(2);	/* addrconf work, RCU callbacks */
	must_write(TRACEFS "tracing_on", "0");
	ph->overruns = trace_overruns();
	read_trace(false, &ph->st);
	stacks(false);
	for (size_t i = 0; i < nr_objs && !net; i++)
		if (objs[i].live && objs[i].cls == C_NET && objs[i].req >= 1024)
			net = objs[i].ptr;
	if (!net)
		die("%s: no allocation of struct net (copy_net_ns) in the trace", ph->name);

	/* Probe while N is alive; the probing itself is not traced. */
	v0 = violations_of_b(b->pid);
	ph->faulting_reads = probe_all(b, &a, host);
	ph->violations = violations_of_b(b->pid) - v0;

	/* Teardown: which of the live objects does N's death free? */
	must_write(TRACEFS "trace", "");
	must_write(NETNS_FREED "trace", "");
	must_write(TRACEFS "tracing_on", "1");
	reader_stop(&a);
	wait_netns_freed(net, ph->name);
	sleep(7);	/* kfree_rcu() batches drain after up to 5 s */
	must_write(TRACEFS "tracing_on", "0");
	ph->overruns += trace_overruns();
	read_trace(true, &ph->st_td);
	summarize(ph);
}

static void print_json(const struct utsname *u)
{
	printf("ASI-BENCH-JSON-BEGIN\n");
	printf("{\n  \"bench\": \"netns_coverage\",\n  \"kernel\": \"%s\",\n", u->release);
	printf("  \"params\": {\"bytes\": \"bytes asked for (slab, kmalloc, asi_alloc); per-cpu: size x possible CPUs\", "
	       "\"window\": \"create + configure, 2 s settle\", \"teardown_settle_s\": 7},\n");
	printf("  \"tables\": [\n");
	for (int p = 0; p < 2; p++) {
		const struct phase *ph = &phases[p];
		bool first = true;

		printf("    {\n      \"title\": \"%s: what another domain's process can read, per object class\",\n",
		       ph->name);
		print_sum_table_head("class");
		for (int c = 0; c < NR_CLS; c++)
			print_row(cls_name[c], &ph->cls[c], &first);
		print_row("total (without the ASI overhead)", &ph->total, &first);
		printf("\n      ]\n    },\n");
	}
	for (int p = 0; p < 2; p++) {
		struct phase *ph = &phases[p];
		bool first = true;
		struct { struct sum s; char name[48]; } tmp[160];
		int n = ph->nr_ops;

		for (int i = 0; i < n; i++) {
			tmp[i].s = ph->ops_sum[i];
			snprintf(tmp[i].name, 48, "%s", ph->ops[i]);
		}
		qsort(tmp, n, sizeof(tmp[0]), cmp_sum_desc);
		printf("    {\n      \"title\": \"%s: pernet data by pernet_operations (blob and what its init allocates)\",\n",
		       ph->name);
		print_sum_table_head("pernet_operations");
		for (int i = 0; i < n; i++)
			print_row(tmp[i].name, &tmp[i].s, &first);
		printf("\n      ]\n    },\n");
	}
	for (int t = 0; t < 2; t++) {
		struct phase *ph = &phases[0];
		struct { struct sum s; char name[48]; } tmp[400];
		int n = t ? ph->nr_res : ph->nr_sites;
		bool first = true;

		for (int i = 0; i < n; i++) {
			tmp[i].s = t ? ph->res_sum[i] : ph->site_sum[i];
			snprintf(tmp[i].name, 48, "%s", t ? ph->res[i] : ph->sites[i]);
		}
		qsort(tmp, n, sizeof(tmp[0]), cmp_sum_desc);
		printf("    {\n      \"title\": \"%s: %s by call site and task (largest 20)\",\n",
		       ph->name, t ? "the residue (live after the window, not freed by the teardown: not counted)" :
		       "the class 'other'");
		print_sum_table_head("call site (task)");
		for (int i = 0; i < n && i < 20; i++)
			print_row(tmp[i].name, &tmp[i].s, &first);
		printf("\n      ]\n    },\n");
	}
	printf("    {\n      \"title\": \"Checks of the measurement itself\",\n");
	printf("      \"columns\": [\"check\", \"with a domain\", \"without (control)\"],\n      \"rows\": [\n");
	printf("        [\"allocations traced in the window\", %lu, %lu],\n",
	       phases[0].st.allocs, phases[1].st.allocs);
	printf("        [\"residue: live after the window, not freed by the teardown (objects)\", %lu, %lu],\n",
	       phases[0].residue.objs, phases[1].residue.objs);
	printf("        [\"residue (bytes)\", %lu, %lu],\n", phases[0].residue.bytes,
	       phases[1].residue.bytes);
	printf("        [\"allocations by other processes, not counted\", %lu, %lu],\n",
	       phases[0].st.host_allocs, phases[1].st.host_allocs);
	printf("        [\"bytes of those\", %lu, %lu],\n",
	       phases[0].st.host_bytes, phases[1].st.host_bytes);
	printf("        [\"pointers allocated again while live (a missed free)\", %lu, %lu],\n",
	       phases[0].st.replaced, phases[1].st.replaced);
	printf("        [\"kfree_rcu() calls seen (kvfree_call_rcu)\", %lu, %lu],\n",
	       phases[0].st.rcu_frees + phases[0].st_td.rcu_frees,
	       phases[1].st.rcu_frees + phases[1].st_td.rcu_frees);
	printf("        [\"bulk-freed pointers seen (kmem_cache_free_bulk)\", %lu, %lu],\n",
	       phases[0].st.bulk_frees + phases[0].st_td.bulk_frees,
	       phases[1].st.bulk_frees + phases[1].st_td.bulk_frees);
	printf("        [\"bulk-freed pointers beyond 512 per call (missed)\", %lu, %lu],\n",
	       phases[0].st.bulk_truncated + phases[0].st_td.bulk_truncated,
	       phases[1].st.bulk_truncated + phases[1].st_td.bulk_truncated);
	printf("        [\"ring-buffer overruns (must be 0)\", %lu, %lu],\n",
	       phases[0].overruns, phases[1].overruns);
	printf("        [\"violations counted for the reader B\", %ld, %ld],\n",
	       phases[0].violations, phases[1].violations);
	printf("        [\"reads by B that faulted (must equal the violations)\", %lu, %lu]\n",
	       phases[0].faulting_reads, phases[1].faulting_reads);
	printf("      ]\n    }\n  ]\n}\nASI-BENCH-JSON-END\n");
}

/*
 * The measurement checks itself: a lost event, a fault that the domain
 * code did not count, or a control that is not all readable would make
 * the numbers wrong, so the run fails (and asi-tool writes no report).
 */
static int self_check(void)
{
	int bad = 0;

	for (int p = 0; p < 2; p++) {
		const struct phase *ph = &phases[p];

		if (ph->overruns) {
			printf("netns_coverage: FAIL: %s: %lu trace events lost\n",
			       ph->name, ph->overruns);
			bad = 1;
		}
		if (ph->violations != (long)ph->faulting_reads) {
			printf("netns_coverage: FAIL: %s: %lu reads faulted, %ld violations counted\n",
			       ph->name, ph->faulting_reads, ph->violations);
			bad = 1;
		}
		if (!ph->cls[C_NET].objs || !ph->cls[C_BLOB].objs) {
			printf("netns_coverage: FAIL: %s: no struct net or no pernet blob attributed\n",
			       ph->name);
			bad = 1;
		}
	}
	/* The pernet data marked .asi_private (at least the test object). */
	if (!phases[0].cls[C_BLOB].priv) {
		printf("netns_coverage: FAIL: nothing private in the namespace with a domain\n");
		bad = 1;
	}
	if (phases[1].total.priv) {
		printf("netns_coverage: FAIL: %lu bytes private without a domain\n",
		       phases[1].total.priv);
		bad = 1;
	}
	return bad;
}

static char orig_netns[8], orig_policy[16];

static void restore(void)
{
	tracing_teardown();
	if (orig_netns[0])
		write_file(SYSCTL_NETNS, orig_netns);
	if (orig_policy[0])
		write_file(SYSCTL_POLICY, orig_policy);
}

/* CPU 0's per-cpu offset, read through the probe (this process is trusted). */
static unsigned long per_cpu_offset0(void)
{
	FILE *f = fopen("/proc/kallsyms", "r");
	char line[256], name[128], type, ans[192];
	unsigned long addr = 0, a, v = 0;
	int fd;

	if (!f)
		die("open /proc/kallsyms: %s", strerror(errno));
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx %c %127s", &a, &type, name) == 3 &&
		    !strcmp(name, "__per_cpu_offset")) {
			addr = a;
			break;
		}
	fclose(f);
	if (!addr)
		die("no __per_cpu_offset in /proc/kallsyms (kptr_restrict?)");
	fd = open(PROBE, O_RDWR);
	if (fd < 0 || !probe_read(fd, addr, ans, sizeof(ans)))
		die("probe of __per_cpu_offset: %s", strerror(errno));
	close(fd);
	if (strncmp(ans, "read=ok data=", 13))
		die("probe answer: %s", ans);
	/* The first 8 bytes, little-endian, in hex. */
	for (int i = 7; i >= 0; i--) {
		char byte[3] = { ans[13 + 2 * i], ans[14 + 2 * i], 0 };

		v = (v << 8) | strtoul(byte, NULL, 16);
	}
	return v;
}

int main(void)
{
	struct reader b, host;
	char status[32];
	struct utsname u;

	setvbuf(stdout, NULL, _IOLBF, 0);
	uname(&u);
	if (read_line(SYSFS_ASI "netns_domains", status, sizeof(status)) ||
	    strcmp(status, "active")) {
		printf("netns_coverage: SKIP: %snetns_domains is not active (boot with asi=on, CONFIG_ASI_NETNS=y)\n",
		       SYSFS_ASI);
		return KSFT_SKIP;
	}
	if (access(PROBE, R_OK | W_OK)) {
		printf("netns_coverage: SKIP: no %s (CONFIG_ASI_NETNS_DEBUGFS)\n", PROBE);
		return KSFT_SKIP;
	}
	if (read_line(SYSCTL_NETNS, orig_netns, sizeof(orig_netns)) ||
	    read_line(SYSCTL_POLICY, orig_policy, sizeof(orig_policy)))
		die("cannot read %s or %s", SYSCTL_NETNS, SYSCTL_POLICY);
	atexit(restore);
	/* A read that faults must only be counted, not kill the reader. */
	must_write(SYSCTL_POLICY, "oops");

	objs = calloc(MAX_OBJS, sizeof(*objs));
	htab = malloc(sizeof(long) << HBITS);
	if (!objs || !htab)
		die("out of memory");

	/* B: another container, with a domain of its own */
	must_write(SYSCTL_NETNS, "1");
	reader_start(&b, setup_other_domain);
	reader_start(&host, NULL);
	pcpu_off0 = per_cpu_offset0();
	tracing_setup();

	phases[0].name = "namespace with a domain";
	phases[1].name = "namespace without a domain (control)";
	run_phase(&phases[0], true, &b, &host);
	run_phase(&phases[1], false, &b, &host);
	reader_stop(&b);
	reader_stop(&host);

	printf("netns_coverage on %s\n", u.release);
	print_phase_text(&phases[0]);
	print_phase_text(&phases[1]);
	print_json(&u);
	return self_check();
}
