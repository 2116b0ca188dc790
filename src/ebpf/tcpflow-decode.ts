// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * Pure decoder for tcpflow ring-buffer records (struct tcpflow_event, layout generated from
 * ebpf/include/tcpflow_types.h) into the flow the agent reports, with addresses as text
 * (IPv4-mapped IPv6 addresses of dual-stack sockets are reported as IPv4).
 */

import { formatIpv6Groups } from "../perf/parsers/if-inet6.ts";
import { RecordError } from "./execsnoop-decode.ts";
import {
  decodeTcpflowEvent,
  TCPFLOW_EVENT_SIZE,
  TCPFLOW_F_ACTIVE,
  TCPFLOW_F_FAILED,
  TCPFLOW_F_IDENT,
  TCPFLOW_KIND_ACCEPT,
  TCPFLOW_KIND_CLOSE,
  TCPFLOW_KIND_CONNECT,
} from "./gen/tcpflow_types.ts";

export type FlowKind = "connect" | "accept" | "close";

/** One TCP connection event as the agent reports it. */
export interface FlowEvent {
  kind: FlowKind;
  /** Kernel CLOCK_MONOTONIC ns of the event. */
  tsNs: bigint;
  /** Kernel CLOCK_MONOTONIC ns the connection began (SYN_SENT, or SYN_RECV for an accepted one). */
  startNs: bigint;
  /** close: tsNs - startNs; else 0n. */
  durationNs: bigint;
  /** Owning process (tgid); 0 when no process context was seen (identKnown false). */
  pid: number;
  comm: string;
  cgroupId: bigint;
  /** Network namespace inode number of the socket. */
  netns: number;
  family: 4 | 6;
  saddr: string;
  sport: number;
  daddr: string;
  dport: number;
  /** outbound: this end called connect(); inbound: it was accepted. */
  direction: "outbound" | "inbound";
  /** close of a connect that never reached ESTABLISHED (refused, reset, timed out). */
  failed: boolean;
  identKnown: boolean;
  /** close: tcp_sock bytes_acked (sent and acknowledged); else 0n. */
  bytesSent: bigint;
  /** close: tcp_sock bytes_received; else 0n. */
  bytesReceived: bigint;
}

const KINDS: Record<number, FlowKind> = {
  [TCPFLOW_KIND_CONNECT]: "connect",
  [TCPFLOW_KIND_ACCEPT]: "accept",
  [TCPFLOW_KIND_CLOSE]: "close",
};

/** Text form of a 4- or 16-byte address; ::ffff:a.b.c.d becomes a.b.c.d. */
export function formatAddr(family: 4 | 6, b: Uint8Array): string {
  if (family === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  const mapped = b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
  if (mapped) return `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i]! << 8) | b[i + 1]!);
  return formatIpv6Groups(groups);
}

/** Decodes one record; throws RecordError (truncated, invalid) for a malformed one. */
export function parseFlowRecord(view: DataView, off: number, len: number): FlowEvent {
  if (len < TCPFLOW_EVENT_SIZE) throw new RecordError("truncated", `tcpflow record of ${len} bytes, expected ${TCPFLOW_EVENT_SIZE}`);
  const e = decodeTcpflowEvent(view, off);
  const kind = KINDS[e.kind];
  if (!kind) throw new RecordError("invalid", `tcpflow record kind ${e.kind} unknown`);
  if (e.family !== 2 && e.family !== 10) throw new RecordError("invalid", `tcpflow record family ${e.family} unknown`);
  const mapped = e.family === 10 && isV4Mapped(e.saddr) && isV4Mapped(e.daddr);
  const family: 4 | 6 = e.family === 2 || mapped ? 4 : 6;
  const rawFamily: 4 | 6 = e.family === 2 ? 4 : 6;
  return {
    kind,
    tsNs: e.tsNs,
    startNs: e.startNs,
    durationNs: kind === "close" && e.tsNs >= e.startNs ? e.tsNs - e.startNs : 0n,
    pid: e.pid,
    comm: e.comm,
    cgroupId: e.cgroupId,
    netns: e.netns,
    family,
    saddr: formatAddr(rawFamily, e.saddr),
    sport: e.sport,
    daddr: formatAddr(rawFamily, e.daddr),
    dport: e.dport,
    direction: e.flags & TCPFLOW_F_ACTIVE ? "outbound" : "inbound",
    failed: (e.flags & TCPFLOW_F_FAILED) !== 0,
    identKnown: (e.flags & TCPFLOW_F_IDENT) !== 0,
    bytesSent: e.bytesSent,
    bytesReceived: e.bytesReceived,
  };
}

function isV4Mapped(b: Uint8Array): boolean {
  return b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
}
