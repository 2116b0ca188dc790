// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * tcpflow: loads ebpf/src/tcpflow.bpf.c (embedded object) through libbpf/bun:ffi, attaches
 * sock:inet_sock_set_state and sys_exit_accept{,4}, reads the ring buffer in a Worker and hands
 * every connect, accept and close record to a callback as a FlowEvent.
 */

import { existsSync } from "node:fs";
import { clockNs, type LibbpfSource, loadLibbpf } from "../../ffi/loader.ts";
import type { Logger } from "../log/logger.ts";
import { effectiveCapabilities, missingCapabilities } from "../system/capabilities.ts";
import { type KernelVersion, kernelAtLeast } from "../system/kernel-version.ts";
import { errorMessage } from "../util/errors.ts";
import { type EbpfAssets, ebpfAssets } from "./assets.ts";
import { UnavailableError } from "./execsnoop.ts";
import { RecordError } from "./execsnoop-decode.ts";
import { ebpfCapabilities, readKernelVersion } from "./features.ts";
import {
  TCPFLOW_LOST_RECOVERED,
  TCPFLOW_LOST_RINGBUF,
  TCPFLOW_LOST_TABLE,
  TCPFLOW_LOST_UNSEEN_CLOSE,
  TCPFLOW_RINGBUF_BYTES,
} from "./gen/tcpflow_types.ts";
import { type EbpfMetrics, registerEbpfMetrics } from "./metrics.ts";
import { BpfObject } from "./object.ts";
import { recursionLost } from "./prog-misses.ts";
import { type FlowEvent, parseFlowRecord } from "./tcpflow-decode.ts";
import { registerTcpflowMetrics, type TcpflowMetrics } from "./tcpflow-metrics.ts";
import { Tracer } from "./tracer-attach.ts";

export const TCPFLOW_PROGRAMS = [
  "tp_btf__inet_sock_set_state",
  // Runs only when the first is mid-run on the CPU below it (and so skipped this event): see tcpflow.bpf.c.
  "tp_btf__inet_sock_set_state_nested",
  // Counts the closes neither of them ran for (an entry still in the table when the socket is destroyed).
  "tp_btf__tcp_destroy_sock",
  "tracepoint__syscalls__sys_exit_accept4",
  "tracepoint__syscalls__sys_exit_accept",
] as const;

export interface TcpflowOptions {
  logger?: Logger;
  /** Ring buffer size in bytes (power of two, default 2 MiB). */
  ringBytes?: number;
  /** Sockets tracked at once (default 65536); more are counted as lost{reason="table_full"}. */
  maxSockets?: number;
  /** Wake the reader when this many bytes wait (default ringBytes/4); 0 wakes it per record. */
  wakeupBytes?: number;
  /** Upper bound on how long a record waits in the ring before the reader polls it (ms, default 100). */
  pollIntervalMs?: number;
  maxInflightBatches?: number;
  /** How often the per-CPU lost counters are read (ms, default 1000). */
  lostPollMs?: number;
  libbpfSource?: LibbpfSource;
  assets?: EbpfAssets;
  metrics?: TcpflowMetrics;
  ebpfMetrics?: EbpfMetrics;
  statusPath?: string;
  procVersionPath?: string;
  btfPath?: string;
}

export interface TcpflowStats {
  connects: number;
  accepts: number;
  closes: number;
  lostRingbufFull: bigint;
  lostTableFull: bigint;
  /** Runs of the programs the kernel skipped (nested on one CPU; see prog-misses.ts), less those the nested program recovered. */
  lostRecursion: bigint;
  /** State changes the nested program handled because the kernel skipped the main program for them. */
  recovered: bigint;
  /**
   * Closes no state-change program ran for, found when the socket was destroyed (the kernel skipped both
   * programs without counting a recursion miss; see tcpflow.bpf.c). An upper bound: a skip already in
   * lostRecursion is counted here again.
   */
  lostUnseenClose: bigint;
  rejected: number;
}

export class TcpflowCollector {
  private readonly kernel: KernelVersion | undefined;
  private readonly metrics: TcpflowMetrics;
  private readonly ebpfMetrics: EbpfMetrics;
  private readonly tracer: Tracer;
  private running = false;
  private monoToRealNs = clockNs(0) - clockNs(1);
  private readonly counts: TcpflowStats = {
    connects: 0,
    accepts: 0,
    closes: 0,
    lostRingbufFull: 0n,
    lostTableFull: 0n,
    lostRecursion: 0n,
    recovered: 0n,
    lostUnseenClose: 0n,
    rejected: 0,
  };
  private unpublished = { connect: 0, accept: 0, close: 0 };
  lastError: Error | undefined;

  constructor(private readonly opts: TcpflowOptions = {}) {
    this.kernel = readKernelVersion(opts.procVersionPath);
    this.metrics = opts.metrics ?? registerTcpflowMetrics();
    this.ebpfMetrics = opts.ebpfMetrics ?? registerEbpfMetrics();
    this.tracer = new Tracer({ pollLost: (obj) => this.pollLost(obj), lostPollMs: opts.lostPollMs, flush: () => this.flushCounters() });
  }

  /** Throws UnavailableError naming what is missing. */
  async checkCanRun(): Promise<void> {
    let capEff: bigint;
    try {
      capEff = await effectiveCapabilities(this.opts.statusPath);
    } catch (e) {
      throw new UnavailableError(`tcpflow unavailable: cannot read effective capabilities: ${errorMessage(e)}`);
    }
    const missing = missingCapabilities(capEff, ebpfCapabilities(this.kernel));
    if (missing.length > 0)
      throw new UnavailableError(`tcpflow unavailable: ${missing.map((c) => `missing capability: ${c}`).join(", ")}`, missing);
    if (!this.kernel) throw new UnavailableError("tcpflow unavailable: cannot read the kernel version from /proc/version");
    if (!kernelAtLeast(this.kernel, 5, 8))
      throw new UnavailableError(`tcpflow unavailable: kernel ${this.kernel.raw} is older than 5.8 (no BPF ring buffer)`);
    const btf = this.opts.btfPath ?? "/sys/kernel/btf/vmlinux";
    if (!existsSync(btf))
      throw new UnavailableError(`tcpflow unavailable: kernel BTF ${btf} missing (CO-RE needs CONFIG_DEBUG_INFO_BTF=y)`);
  }

  /** Loads and attaches; `onFlow` gets every record from then on, in the reader's batch order. */
  async start(onFlow: (flow: FlowEvent) => void): Promise<void> {
    if (this.running) throw new Error("tcpflow collector already running");
    await this.checkCanRun();
    this.running = true;
    const log = this.opts.logger;
    try {
      const assets = this.opts.assets ?? ebpfAssets();
      const objPath = assets.objects.tcpflow;
      if (!objPath) throw new Error("tcpflow.bpf.o is not available (run scripts/build-ebpf.sh)");
      const libbpf = loadLibbpf({ source: this.opts.libbpfSource, embedded: assets.libs });
      const obj = this.tracer.hold(BpfObject.openFile(libbpf, objPath, "tcpflow"));
      const ringBytes = this.opts.ringBytes ?? TCPFLOW_RINGBUF_BYTES;
      if (this.opts.ringBytes !== undefined) obj.setMaxEntries("events", ringBytes);
      if (this.opts.maxSockets !== undefined) obj.setMaxEntries("socks", this.opts.maxSockets);
      obj.setRodata("wakeup_bytes", BigInt(this.opts.wakeupBytes ?? Math.floor(ringBytes / 4)));
      obj.load();
      const progIds = await this.tracer.attach({
        name: "tcpflow",
        libbpf,
        programs: TCPFLOW_PROGRAMS,
        pollIntervalMs: this.opts.pollIntervalMs,
        maxInflightBatches: this.opts.maxInflightBatches,
        onRecord: (view, off, len) => this.ingest(view, off, len, onFlow),
        onBatchEnd: () => this.flushCounters(),
        onOversized: (n) => {
          this.counts.rejected += n;
          this.ebpfMetrics.recordsRejected.inc({ program: "tcpflow", reason: "oversized" }, n);
        },
        onError: (err) => {
          this.lastError = err;
          log?.error({ err: err.message }, "tcpflow ring buffer reader error");
        },
        beforeRead: () => {
          this.monoToRealNs = clockNs(0) - clockNs(1);
        },
      });
      log?.info({ programs: progIds, libbpf: libbpf.source, version: libbpf.version }, "tcpflow attached");
    } catch (e) {
      await this.tracer.teardown();
      this.running = false;
      this.lastError = e as Error;
      throw e;
    }
  }

  /** Decodes one record and hands it on; a malformed one is counted and logged. */
  ingest(view: DataView, off: number, len: number, onFlow: (flow: FlowEvent) => void): boolean {
    let flow: FlowEvent;
    try {
      flow = parseFlowRecord(view, off, len);
    } catch (e) {
      const reason = e instanceof RecordError ? e.reason : "invalid";
      this.counts.rejected++;
      this.ebpfMetrics.recordsRejected.inc({ program: "tcpflow", reason });
      this.opts.logger?.error({ err: errorMessage(e), reason }, "tcpflow record rejected");
      return false;
    }
    if (flow.kind === "connect") this.counts.connects++;
    else if (flow.kind === "accept") this.counts.accepts++;
    else this.counts.closes++;
    this.unpublished[flow.kind]++;
    onFlow(flow);
    return true;
  }

  /** Kernel monotonic ns → wall-clock ms since the epoch. */
  wallMs(monoNs: bigint): number {
    return Number((monoNs + this.monoToRealNs) / 1_000_000n);
  }

  flushCounters(): void {
    for (const k of ["connect", "accept", "close"] as const) {
      if (this.unpublished[k] > 0) this.metrics.events.inc({ kind: k }, this.unpublished[k]);
      this.unpublished[k] = 0;
    }
  }

  private pollLost(obj: BpfObject): void {
    this.monoToRealNs = clockNs(0) - clockNs(1);
    try {
      const full = obj.percpuU64Sum("lost", TCPFLOW_LOST_RINGBUF);
      const table = obj.percpuU64Sum("lost", TCPFLOW_LOST_TABLE);
      if (full > this.counts.lostRingbufFull) this.metrics.lost.inc({ reason: "ringbuf_full" }, Number(full - this.counts.lostRingbufFull));
      if (table > this.counts.lostTableFull) this.metrics.lost.inc({ reason: "table_full" }, Number(table - this.counts.lostTableFull));
      this.counts.lostRingbufFull = full;
      this.counts.lostTableFull = table;
      const unseen = obj.percpuU64Sum("lost", TCPFLOW_LOST_UNSEEN_CLOSE);
      if (unseen > this.counts.lostUnseenClose)
        this.metrics.lost.inc({ reason: "unseen_close" }, Number(unseen - this.counts.lostUnseenClose));
      this.counts.lostUnseenClose = unseen;
      // Every program's skipped runs (the nested program's too) less the ones it ran in place of the main program.
      const { lost: skipped, recovered } = recursionLost(this.tracer.programIds(), () => obj.percpuU64Sum("lost", TCPFLOW_LOST_RECOVERED));
      this.counts.recovered = recovered;
      if (skipped > this.counts.lostRecursion) this.metrics.lost.inc({ reason: "recursion" }, Number(skipped - this.counts.lostRecursion));
      this.counts.lostRecursion = skipped;
    } catch (e) {
      this.lastError = e as Error;
    }
  }

  programIds(): number[] {
    return this.tracer.programIds();
  }

  stats(): TcpflowStats {
    return { ...this.counts };
  }

  /** Detaches the programs, drains the ring, frees everything. */
  async stop(): Promise<void> {
    if (!this.running) return;
    await this.tracer.teardown();
    this.running = false;
    const s = this.counts;
    this.opts.logger?.info(
      {
        connects: s.connects,
        accepts: s.accepts,
        closes: s.closes,
        lost: String(s.lostRingbufFull + s.lostTableFull),
        skipped: String(s.lostRecursion),
        unseenCloses: String(s.lostUnseenClose),
        rejected: s.rejected,
      },
      "tcpflow detached",
    );
  }
}

/** A flow as `collect --collectors tcpflow` prints it (snake_case, exact u64). */
export function flowRecordJson(f: FlowEvent, wallMs: number): Record<string, unknown> {
  return {
    time: new Date(wallMs).toISOString(),
    timestamp: f.tsNs,
    kind: f.kind,
    direction: f.direction,
    pid: f.pid,
    comm: f.comm,
    cgroup_id: f.cgroupId,
    netns: f.netns,
    family: f.family === 4 ? "ipv4" : "ipv6",
    saddr: f.saddr,
    sport: f.sport,
    daddr: f.daddr,
    dport: f.dport,
    ...(f.kind === "close"
      ? { bytes_sent: f.bytesSent, bytes_received: f.bytesReceived, duration_ns: f.durationNs, failed: f.failed }
      : {}),
  };
}
