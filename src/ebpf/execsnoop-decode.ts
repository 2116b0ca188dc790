// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * Pure decoder for execsnoop ring-buffer records: struct execsnoop_event (layout generated from
 * ebpf/include/execsnoop_types.h) followed by args_size bytes of NUL-terminated argv strings.
 * Malformed records throw RecordError with a reason that is counted in
 * antimetal_ebpf_records_rejected_total{reason}.
 */

import { bytesToString, decodeExecsnoopEvent, EXECSNOOP_EVENT_SIZE, FULL_MAX_ARGS_ARR, TOTAL_MAX_ARGS } from "./gen/execsnoop_types.ts";

export type RejectReason = "truncated" | "oversized" | "invalid";

export class RecordError extends Error {
  constructor(
    readonly reason: RejectReason,
    message: string,
  ) {
    super(message);
    this.name = "RecordError";
  }
}

/** One execve as the agent reports it. */
export interface ExecEvent {
  /** Kernel CLOCK_MONOTONIC nanoseconds (bpf_ktime_get_ns) at sys_enter_execve. */
  timestampNs: bigint;
  pid: number;
  ppid: number;
  uid: number;
  /** 0 on success, -errno on a failed exec. */
  retval: number;
  /** The task's comm at sys_exit (the new program's name after a successful exec). */
  comm: string;
  /** basename of args[0] (trimmed), else comm. */
  command: string;
  args: string[];
}

export const EXECSNOOP_RECORD_MAX = EXECSNOOP_EVENT_SIZE + FULL_MAX_ARGS_ARR;

/** Go's filepath.Base: "" -> ".", trailing slashes dropped, all-slashes -> "/". */
export function goBase(p: string): string {
  if (p === "") return ".";
  let s = p.replace(/\/+$/, "");
  if (s === "") return "/";
  const i = s.lastIndexOf("/");
  if (i >= 0) s = s.slice(i + 1);
  return s === "" ? "/" : s;
}

/** Command name as the original agent derives it: basename of trimmed args[0] unless "", "." or "/". */
export function commandName(comm: string, args: readonly string[]): string {
  if (args.length > 0) {
    const b = goBase(args[0]!.trim());
    if (b !== "" && b !== "." && b !== "/") return b;
  }
  return comm;
}

/** Decodes the record at [off, off+len) of `view`. Throws RecordError on malformed input. */
export function parseExecRecord(view: DataView, off = 0, len = view.byteLength - off): ExecEvent {
  if (len < EXECSNOOP_EVENT_SIZE) {
    throw new RecordError("truncated", `event too small: ${len} bytes, need at least ${EXECSNOOP_EVENT_SIZE}`);
  }
  if (len > EXECSNOOP_RECORD_MAX) {
    throw new RecordError("oversized", `event too large: ${len} bytes, at most ${EXECSNOOP_RECORD_MAX}`);
  }
  const h = decodeExecsnoopEvent(view, off);
  if (h.argsSize > FULL_MAX_ARGS_ARR) {
    throw new RecordError("oversized", `args size ${h.argsSize} exceeds ${FULL_MAX_ARGS_ARR}`);
  }
  const avail = len - EXECSNOOP_EVENT_SIZE;
  if (h.argsSize > avail) {
    throw new RecordError("truncated", `args size mismatch: header says ${h.argsSize} bytes, record has ${avail}`);
  }
  if (h.argsCount < 0 || h.argsCount > TOTAL_MAX_ARGS) {
    throw new RecordError("invalid", `args count ${h.argsCount} out of range 0..${TOTAL_MAX_ARGS}`);
  }
  const args: string[] = [];
  const bytes = new Uint8Array(view.buffer, view.byteOffset + off + EXECSNOOP_EVENT_SIZE, h.argsSize);
  let start = 0;
  while (args.length < h.argsCount && start < bytes.length) {
    let end = bytes.indexOf(0, start);
    if (end < 0) end = bytes.length;
    if (end > start) args.push(bytesToString(bytes.subarray(start, end)));
    start = end + 1;
  }
  return {
    timestampNs: h.timestampNs,
    pid: h.pid,
    ppid: h.ppid,
    uid: h.uid,
    retval: h.retval,
    comm: h.comm,
    command: commandName(h.comm, args),
    args,
  };
}
