// SPDX-License-Identifier: GPL-2.0-only
/*
 * Record layout shared by ebpf/src/tcpflow.bpf.c and the agent's TypeScript decoder
 * (src/ebpf/gen/tcpflow_types.ts is generated from this file by scripts/gen-ebpf-types.ts).
 *
 * One fixed-size `struct tcpflow_event` per TCP connection opened (kind CONNECT at
 * SYN_SENT -> ESTABLISHED, kind ACCEPT when accept(2) returns it) and per connection ended (kind
 * CLOSE at -> TCP_CLOSE, with bytes and duration; a connect that never got established is a
 * CLOSE with TCPFLOW_F_FAILED). Addresses are 16 bytes: IPv4 in the first 4 (family 2),
 * IPv6 in all 16 (family 10). Ports are host byte order.
 */
#ifndef __TCPFLOW_TYPES_H
#define __TCPFLOW_TYPES_H

#define TCPFLOW_COMM_LEN 16
#define TCPFLOW_ADDR_LEN 16
#define TCPFLOW_RINGBUF_BYTES (1 << 21)
#define TCPFLOW_MAX_SOCKS 65536

/* kind */
#define TCPFLOW_KIND_CONNECT 1
#define TCPFLOW_KIND_ACCEPT 2
#define TCPFLOW_KIND_CLOSE 3

/* flags */
#define TCPFLOW_F_ACTIVE 1 /* this end called connect() (else it accepted) */
#define TCPFLOW_F_FAILED 2 /* CLOSE of a connect that never reached ESTABLISHED */
#define TCPFLOW_F_IDENT 4  /* pid/comm/cgroup were taken in the owning process's context */

/* indices of the per-CPU `lost` array */
#define TCPFLOW_LOST_RINGBUF 0
#define TCPFLOW_LOST_TABLE 1
#define TCPFLOW_LOST_RECOVERED 2 /* not a loss: state changes the nested program ran in place of the skipped main one */
/* a socket destroyed with its entry still in the table: the kernel ran neither state-change program
 * for its close and counted no skip (see tcpflow.bpf.c, tp_btf__tcp_destroy_sock) */
#define TCPFLOW_LOST_UNSEEN_CLOSE 3
#define TCPFLOW_LOST_SLOTS 4

struct tcpflow_event {
	__u64 ts_ns;
	__u64 start_ns;
	__u64 cgroup_id;
	__u64 bytes_sent;
	__u64 bytes_received;
	__u32 pid;
	__u32 netns;
	__u16 family;
	__u16 sport;
	__u16 dport;
	__u8 kind;
	__u8 flags;
	__u8 saddr[TCPFLOW_ADDR_LEN];
	__u8 daddr[TCPFLOW_ADDR_LEN];
	char comm[TCPFLOW_COMM_LEN];
};

#endif /* __TCPFLOW_TYPES_H */
