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
  bytesToString,
  TCPFLOW_COMM_LEN,
  TCPFLOW_EVENT_LAYOUT,
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
  return addrAt(family, b, 0);
}

/** formatAddr of the address at b[o..]: read in place, no copy (the hot path decodes every record). */
function addrAt(family: 4 | 6, b: Uint8Array, o: number): string {
  if (family === 4 || isV4MappedAt(b, o)) {
    const v = family === 4 ? o : o + 12;
    return `${b[v]}.${b[v + 1]}.${b[v + 2]}.${b[v + 3]}`;
  }
  const groups: number[] = [];
  for (let i = o; i < o + 16; i += 2) groups.push((b[i]! << 8) | b[i + 1]!);
  return formatIpv6Groups(groups);
}

function isV4MappedAt(b: Uint8Array, o: number): boolean {
  for (let i = o; i < o + 10; i++) if (b[i] !== 0) return false;
  return b[o + 10] === 0xff && b[o + 11] === 0xff;
}

/** char[16] at b[o..] up to its NUL; ASCII (every kernel comm in practice) without TextDecoder. */
function commAt(b: Uint8Array, o: number): string {
  let end = o;
  let ascii = true;
  while (end < o + TCPFLOW_COMM_LEN && b[end] !== 0) {
    if (b[end]! >= 0x80) ascii = false;
    end++;
  }
  if (!ascii) return bytesToString(b.subarray(o, end));
  let s = "";
  for (let i = o; i < end; i++) s += String.fromCharCode(b[i]!);
  return s;
}

const O = TCPFLOW_EVENT_LAYOUT;

/**
 * Decodes one record; throws RecordError (truncated, invalid) for a malformed one. Reads the fields
 * in place (one byte view per record, no copies of the address and comm fields): this runs for
 * every connect, accept and close on the host.
 */
export function parseFlowRecord(view: DataView, off: number, len: number): FlowEvent {
  if (len < TCPFLOW_EVENT_SIZE) throw new RecordError("truncated", `tcpflow record of ${len} bytes, expected ${TCPFLOW_EVENT_SIZE}`);
  const kind = KINDS[view.getUint8(off + O.kind.offset)];
  if (!kind) throw new RecordError("invalid", `tcpflow record kind ${view.getUint8(off + O.kind.offset)} unknown`);
  const rawFamily = view.getUint16(off + O.family.offset, true);
  if (rawFamily !== 2 && rawFamily !== 10) throw new RecordError("invalid", `tcpflow record family ${rawFamily} unknown`);
  const b = new Uint8Array(view.buffer, view.byteOffset + off, TCPFLOW_EVENT_SIZE);
  const sa = O.saddr.offset;
  const da = O.daddr.offset;
  const mapped = rawFamily === 10 && isV4MappedAt(b, sa) && isV4MappedAt(b, da);
  const family: 4 | 6 = rawFamily === 2 || mapped ? 4 : 6;
  const af: 4 | 6 = rawFamily === 2 ? 4 : 6;
  const tsNs = view.getBigUint64(off + O.ts_ns.offset, true);
  const startNs = view.getBigUint64(off + O.start_ns.offset, true);
  const flags = view.getUint8(off + O.flags.offset);
  return {
    kind,
    tsNs,
    startNs,
    durationNs: kind === "close" && tsNs >= startNs ? tsNs - startNs : 0n,
    pid: view.getUint32(off + O.pid.offset, true),
    comm: commAt(b, O.comm.offset),
    cgroupId: view.getBigUint64(off + O.cgroup_id.offset, true),
    netns: view.getUint32(off + O.netns.offset, true),
    family,
    saddr: addrAt(af, b, sa),
    sport: view.getUint16(off + O.sport.offset, true),
    daddr: addrAt(af, b, da),
    dport: view.getUint16(off + O.dport.offset, true),
    direction: flags & TCPFLOW_F_ACTIVE ? "outbound" : "inbound",
    failed: (flags & TCPFLOW_F_FAILED) !== 0,
    identKnown: (flags & TCPFLOW_F_IDENT) !== 0,
    bytesSent: view.getBigUint64(off + O.bytes_sent.offset, true),
    bytesReceived: view.getBigUint64(off + O.bytes_received.offset, true),
  };
}
