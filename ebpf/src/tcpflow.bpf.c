// SPDX-License-Identifier: GPL-2.0-only
/*
 * tcpflow: TCP connections opened and ended, with the owning process, its cgroup and network
 * namespace, bytes each way and duration (the tcplife approach: sock:inet_sock_set_state plus
 * CO-RE reads of tcp_sock, tracepoints only — no kprobes, no fentry; the state change as a BTF raw
 * tracepoint, see below).
 *
 * A per-socket table `socks` (keyed by struct sock *) holds the start time and the owner:
 *   - connect: SYN_SENT happens inside connect(2), so pid/comm/cgroup are the caller's;
 *   - accept: the child socket appears in softirq context (SYN_RECV), without an owner; the
 *     owner is filled in at sys_exit_accept{,4} from the returned fd (task->files->fdt->fd[fd]).
 * Records (one fixed-size struct each, see tcpflow_types.h): CONNECT at SYN_SENT->ESTABLISHED,
 * ACCEPT when accept(2) returns the socket, CLOSE at ->TCP_CLOSE with bytes_acked /
 * bytes_received and duration; a connect that closes before ESTABLISHED is a failed CLOSE.
 *
 * Bounded cost: each connection costs a fixed amount of kernel work and at most two 104-byte
 * records. The ring (2 MiB, about 20k records) is drained by the agent's reader thread; when it is
 * full the record is dropped and counted in the per-CPU `lost` array (index 0), as is a socket the
 * full `socks` table could not track (index 1); index 2 counts the state changes the nested program
 * recovered (below), not a loss; index 3 counts the closes no state-change program ran for, found
 * when the socket is destroyed (tp_btf__tcp_destroy_sock). Nothing is sampled: every connection the
 * table and ring can hold is reported exactly.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "tcpflow_types.h"

char LICENSE[] SEC("license") = "GPL";

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define SEND_SHUTDOWN 2

/* Wake the reader only once this many bytes wait (0: every record); the reader polls for the rest. */
const volatile __u64 wakeup_bytes = 0;

struct sock_info {
	__u64 start_ns;
	__u64 cgroup_id;
	__u32 pid;
	__u8 flags;
	__u8 opened; /* an open record (CONNECT or ACCEPT) was sent */
	__u8 closed; /* the CLOSE was handled (its entry's delete can fail: see tp_btf__tcp_destroy_sock) */
	__u8 pad;
	char comm[TCPFLOW_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, TCPFLOW_RINGBUF_BYTES);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TCPFLOW_MAX_SOCKS);
	__type(key, __u64);
	__type(value, struct sock_info);
} socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TCPFLOW_LOST_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

/* Placeholder so the generated type is kept in the object's BTF for tools (bpftool map dump). */
struct tcpflow_event _tcpflow_event_btf = {};

static __always_inline void count_lost(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&lost, &idx);
	if (v)
		__sync_fetch_and_add(v, 1);
}

static __always_inline void fill_tuple(struct tcpflow_event *e, struct sock *sk)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	e->family = family;
	/* inet_sport, not skc_num: at CLOSE inet_put_port has already zeroed skc_num. */
	e->sport = __builtin_bswap16(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	e->dport = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
	e->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	if (family == AF_INET) {
		bpf_core_read(e->saddr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(e->daddr, 4, &sk->__sk_common.skc_daddr);
	} else {
		bpf_core_read(e->saddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(e->daddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
}

/*
 * Payload bytes from tcp_sock's RFC 4898 counters, which count sequence space: bytes_acked
 * includes our SYN (active opener, once the SYN-ACK arrived) and our FIN once acknowledged;
 * bytes_received includes the peer's FIN. tcplife reports the raw counters; the agent subtracts
 * the control sequence numbers so the figures are what the applications wrote and read.
 *   our FIN acked: send side shut down (close/shutdown queued a FIN) and snd_una == write_seq;
 *   peer FIN seen: SOCK_DONE (set by tcp_fin only).
 * At the CLOSE tracepoint tcp_done has not yet overwritten sk_shutdown.
 */
static __always_inline void payload_bytes(struct tcpflow_event *e, struct sock *sk, struct sock_info *si)
{
	struct tcp_sock *tp = (struct tcp_sock *)sk;
	__u64 acked = BPF_CORE_READ(tp, bytes_acked);
	__u64 received = BPF_CORE_READ(tp, bytes_received);
	__u32 snd_una = BPF_CORE_READ(tp, snd_una);
	__u32 write_seq = BPF_CORE_READ(tp, write_seq);
	__u8 shutdown = BPF_CORE_READ_BITFIELD_PROBED(sk, sk_shutdown);
	unsigned long sk_flags = BPF_CORE_READ(sk, __sk_common.skc_flags);
	__u64 control = 0;
	if ((si->flags & TCPFLOW_F_ACTIVE) && acked > 0)
		control++; /* our SYN */
	if ((shutdown & SEND_SHUTDOWN) && snd_una == write_seq && acked > control)
		control++; /* our FIN */
	e->bytes_sent = acked - control;
	__u64 peer_fin = (sk_flags >> bpf_core_enum_value(enum sock_flags, SOCK_DONE)) & 1;
	e->bytes_received = received >= peer_fin ? received - peer_fin : 0;
}

static __always_inline void submit(struct sock *sk, struct sock_info *si, __u8 kind, __u8 extra_flags, __u64 now)
{
	struct tcpflow_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_lost(TCPFLOW_LOST_RINGBUF);
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = now;
	e->start_ns = si->start_ns;
	e->cgroup_id = si->cgroup_id;
	e->pid = si->pid;
	e->kind = kind;
	e->flags = si->flags | extra_flags;
	__builtin_memcpy(e->comm, si->comm, sizeof(e->comm));
	fill_tuple(e, sk);
	if (kind == TCPFLOW_KIND_CLOSE)
		payload_bytes(e, sk, si);
	__u64 flags = 0;
	if (wakeup_bytes)
		flags = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) + sizeof(*e) >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP
												: BPF_RB_NO_WAKEUP;
	bpf_ringbuf_submit(e, flags);
}

static __always_inline void take_ident(struct sock_info *si)
{
	si->pid = bpf_get_current_pid_tgid() >> 32;
	si->cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(&si->comm, sizeof(si->comm));
	si->flags |= TCPFLOW_F_IDENT;
}

/*
 * A BTF-typed raw tracepoint (tp_btf, 5.5+) rather than the classic tracepoint: the kernel skips a
 * classic tracepoint program while any BPF program of that kind runs on the CPU (one global
 * per-CPU counter), so a softirq's state change arriving while execsnoop, an accept-exit program or
 * another tool's program runs in a syscall was lost. A raw tracepoint program is skipped only when
 * it is itself interrupted on that CPU (counted as its recursion_misses), and skips no event
 * construction either: the arguments are the socket and the two states.
 */
static __always_inline int on_state_change(struct sock *sk, int os, int ns)
{
	__u16 protocol = BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol);
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (protocol != IPPROTO_TCP)
		return 0;
	if (family != AF_INET && family != AF_INET6)
		return 0;
	__u64 key = (__u64)sk;
	__u64 now = bpf_ktime_get_ns();

	if (ns == TCP_SYN_SENT) {
		/* Inside connect(2): the caller owns the socket. */
		struct sock_info si = {};
		si.start_ns = now;
		si.flags = TCPFLOW_F_ACTIVE;
		take_ident(&si);
		if (bpf_map_update_elem(&socks, &key, &si, BPF_ANY))
			count_lost(TCPFLOW_LOST_TABLE);
		return 0;
	}
	if (ns == TCP_SYN_RECV) {
		/* A passive child socket (softirq); accept(2) names its owner later. */
		/*
		 * BPF_ANY: an entry at this address is a freed socket's whose delete failed. Any failure
		 * is counted: -E2BIG (table full) or -EBUSY (this CPU was inside another socks update
		 * when the softirq came, the hash table's per-CPU bucket lock; about 1 in 40k at 10k
		 * connections/s).
		 */
		struct sock_info si = {};
		si.start_ns = now;
		if (bpf_map_update_elem(&socks, &key, &si, BPF_ANY))
			count_lost(TCPFLOW_LOST_TABLE);
		return 0;
	}
	struct sock_info *si = bpf_map_lookup_elem(&socks, &key);
	if (!si)
		return 0; /* opened before the program was attached, or a listener */
	if (ns == TCP_ESTABLISHED) {
		if ((si->flags & TCPFLOW_F_ACTIVE) && !si->opened) {
			si->opened = 1;
			submit(sk, si, TCPFLOW_KIND_CONNECT, 0, now);
		}
		return 0;
	}
	if (ns == TCP_CLOSE) {
		if (os == TCP_SYN_RECV && !(si->flags & TCPFLOW_F_ACTIVE) && !si->opened) {
			/*
			 * A passive child that never finished the handshake and was never accepted: not a
			 * connection. Seen when the handshake's ACK and the first data segment are processed
			 * on two CPUs at once and both create a child; the loser is closed straight from
			 * SYN_RECV, with the same 4-tuple as the real one.
			 */
			si->closed = 1;
			bpf_map_delete_elem(&socks, &key);
			return 0;
		}
		__u8 failed = (os == TCP_SYN_SENT) ? TCPFLOW_F_FAILED : 0;
		submit(sk, si, TCPFLOW_KIND_CLOSE, failed, now);
		si->closed = 1;
		bpf_map_delete_elem(&socks, &key);
		return 0;
	}
	/* FIN_WAIT1 / LAST_ACK from close(2) or shutdown(2): the owner if accept never named one. */
	if ((ns == TCP_FIN_WAIT1 || ns == TCP_LAST_ACK) && !(si->flags & TCPFLOW_F_IDENT)) {
		__u64 tgid = bpf_get_current_pid_tgid() >> 32;
		if (tgid != 0)
			take_ident(si);
	}
	return 0;
}

/*
 * The kernel does not run a raw tracepoint program nested in itself on one CPU: a softirq's state
 * change (an RST or FIN arriving) that interrupts this program running in a process's connect(2)
 * or close(2) is skipped and counted as its recursion_misses (the per-program `active` counter).
 * Each program has its own counter, so a second, near-empty program on the same tracepoint
 * (tp_btf__inet_sock_set_state_nested) still runs for that nested event. The main program marks
 * its run in the per-CPU `busy` flag; the second program returns at once unless the flag is set,
 * which means the main program is mid-run on this CPU below it and skipped this event, and then
 * handles the event itself (on its own stack: nothing per-CPU is shared between the two runs) and
 * counts it as recovered (`lost` index TCPFLOW_LOST_RECOVERED). The agent reports recursion
 * losses as all programs' recursion_misses minus the recovered runs. A nested event that arrives
 * in the kernel's few instructions around the main program (after it is marked active and before
 * it sets the flag, or after it clears the flag) is not recovered and stays counted; the second
 * program's own skips (a state change interrupting its near-empty run, when the main program does
 * run for it) lose nothing but are counted too, so the count is an upper bound.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} busy SEC(".maps");

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tp_btf__inet_sock_set_state, struct sock *sk, int os, int ns)
{
	__u32 zero = 0;
	__u32 *b = bpf_map_lookup_elem(&busy, &zero);
	if (!b)
		return 0;
	*b = 1;
	on_state_change(sk, os, ns);
	*b = 0;
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tp_btf__inet_sock_set_state_nested, struct sock *sk, int os, int ns)
{
	__u32 zero = 0;
	__u32 *b = bpf_map_lookup_elem(&busy, &zero);
	if (!b || !*b)
		return 0;
	count_lost(TCPFLOW_LOST_RECOVERED);
	on_state_change(sk, os, ns);
	return 0;
}

/*
 * The last look at a socket (tcp_v4_destroy_sock, IPv6 too; after its close): an entry still in the
 * table means no state-change program handled the close. Measured on the 6.18 sandbox kernel of our
 * CI (test/netgraph/tcpflow-nested.test.ts): in some runs the tracepoint fired for a whole timer
 * tick's batch of closes (a perf counter on it saw every one) and neither raw-tracepoint program ran
 * for them, nor did the kernel count a recursion miss. That kernel is patched: its bpf_trace_run*
 * returns before the recursion check, silently, when current->tgid == 1 and the program was not
 * loaded by PID 1 (bpf_prog_aux.init_owned, not in mainline), so a softirq that runs while PID 1 is
 * the current task runs none of our programs. Whatever the cause, such a loss is counted here
 * (`lost` index TCPFLOW_LOST_UNSEEN_CLOSE) and its entry freed, instead of being silent and
 * leaking a table slot. Not reported as a CLOSE: the close's time and state are gone. A
 * close that was handled but whose entry's delete failed (-EBUSY, a nested socks update) is marked
 * `closed` and only freed. A close the kernel skipped and counted as a recursion miss is counted
 * again here, as is an unseen close of a passive child that was never a connection (closed from
 * SYN_RECV): both counts are upper bounds.
 */
SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(tp_btf__tcp_destroy_sock, struct sock *sk)
{
	__u64 key = (__u64)sk;
	struct sock_info *si = bpf_map_lookup_elem(&socks, &key);
	if (!si)
		return 0;
	if (!si->closed)
		count_lost(TCPFLOW_LOST_UNSEEN_CLOSE);
	bpf_map_delete_elem(&socks, &key);
	return 0;
}

static __always_inline int on_accept_exit(long ret)
{
	if (ret < 0)
		return 0;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct file **fds = BPF_CORE_READ(task, files, fdt, fd);
	unsigned int max_fds = BPF_CORE_READ(task, files, fdt, max_fds);
	if (!fds || (unsigned long)ret >= max_fds)
		return 0;
	struct file *f = NULL;
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[ret]) || !f)
		return 0;
	struct socket *sock = BPF_CORE_READ(f, private_data);
	if (!sock)
		return 0;
	struct sock *sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return 0;
	__u64 key = (__u64)sk;
	struct sock_info *si = bpf_map_lookup_elem(&socks, &key);
	if (!si || si->opened || (si->flags & TCPFLOW_F_ACTIVE))
		return 0;
	take_ident(si);
	si->opened = 1;
	submit(sk, si, TCPFLOW_KIND_ACCEPT, 0, bpf_ktime_get_ns());
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int tracepoint__syscalls__sys_exit_accept4(struct trace_event_raw_sys_exit *ctx)
{
	return on_accept_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int tracepoint__syscalls__sys_exit_accept(struct trace_event_raw_sys_exit *ctx)
{
	return on_accept_exit(ctx->ret);
}
