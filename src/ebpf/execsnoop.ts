// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * execsnoop as a continuous collector: loads ebpf/src/execsnoop.bpf.c (embedded object) through
 * libbpf/bun:ffi, attaches sys_enter_execve and sys_exit_execve, reads the ring buffer in a
 * Worker and emits one MetricEvent per execve, successful or failed.
 */

import { existsSync } from "node:fs";
import { clockNs, type LibbpfSource, loadLibbpf } from "../../ffi/loader.ts";
import type { Logger } from "../log/logger.ts";
import type { CollectorSpec, ContinuousCollector, MetricEvent } from "../perf/collector.ts";
import { type CapabilityName, effectiveCapabilities, missingCapabilities } from "../system/capabilities.ts";
import { type KernelVersion, kernelAtLeast } from "../system/kernel-version.ts";
import { errorMessage } from "../util/errors.ts";
import { type EbpfAssets, ebpfAssets } from "./assets.ts";
import { type ExecEvent, parseExecRecord, RecordError } from "./execsnoop-decode.ts";
import { ebpfCapabilities, readKernelVersion } from "./features.ts";
import { DEFAULT_MAXARGS, EXECSNOOP_RINGBUF_BYTES, TOTAL_MAX_ARGS } from "./gen/execsnoop_types.ts";
import { type EbpfMetrics, registerEbpfMetrics } from "./metrics.ts";
import { BpfObject } from "./object.ts";
import { Tracer } from "./tracer-attach.ts";

export const EXECSNOOP_PROGRAMS = ["tracepoint__syscalls__sys_enter_execve", "tracepoint__syscalls__sys_exit_execve"] as const;

/** Thrown when the collector cannot run here; `missing` names the absent capabilities. */
export class UnavailableError extends Error {
  constructor(
    message: string,
    readonly missing: CapabilityName[] = [],
  ) {
    super(message);
    this.name = "UnavailableError";
  }
}

export interface ExecsnoopOptions {
  logger?: Logger;
  nodeName?: string;
  /** argv strings copied per exec (the original's max_args, default 20, at most 60). */
  maxArgs?: number;
  /** Ring buffer size in bytes (power of two, default 1 MiB as the original). */
  ringBytes?: number;
  /**
   * Wake the reader when this many bytes wait in the ring (default ringBytes/4); 0 wakes it for
   * every exec, as the original does. Records below the threshold are read by the timed poll.
   */
  wakeupBytes?: number;
  /** Batches the reader may hand to this thread before it stops draining the ring (default 64). */
  maxInflightBatches?: number;
  /** Upper bound on how long a record waits in the ring before the reader polls it (ms, default 100). */
  pollIntervalMs?: number;
  libbpfSource?: LibbpfSource;
  assets?: EbpfAssets;
  metrics?: EbpfMetrics;
  /** How often the per-CPU lost counters are read (ms). */
  lostPollMs?: number;
  statusPath?: string;
  procVersionPath?: string;
  btfPath?: string;
}

/** What the collector emits as MetricEvent.data: the decoded event, its kernel time renamed and also given as wall-clock. */
export type ExecRecordData = Omit<ExecEvent, "timestampNs"> & {
  /** Kernel CLOCK_MONOTONIC ns (exact). */
  timestamp: bigint;
  /** The same instant as wall-clock ISO-8601. */
  time: string;
};

export interface ExecsnoopStats {
  events: number;
  lostRingbufFull: bigint;
  lostPendingFull: bigint;
  rejected: number;
}

export class ExecsnoopCollector implements ContinuousCollector {
  readonly spec: CollectorSpec;
  private readonly kernel: KernelVersion | undefined;
  private readonly metrics: EbpfMetrics;
  private readonly tracer: Tracer;
  private running = false;
  private monoToRealNs = clockNs(0) - clockNs(1);
  private readonly counts: ExecsnoopStats = { events: 0, lostRingbufFull: 0n, lostPendingFull: 0n, rejected: 0 };
  private unpublished = 0;
  lastError: Error | undefined;

  constructor(private readonly opts: ExecsnoopOptions = {}) {
    this.kernel = readKernelVersion(opts.procVersionPath);
    this.spec = {
      type: "execsnoop",
      name: "execsnoop",
      point: false,
      continuous: true,
      requiredCapabilities: ebpfCapabilities(this.kernel),
      minKernel: "5.8",
    };
    this.metrics = opts.metrics ?? registerEbpfMetrics();
    this.tracer = new Tracer({ pollLost: (obj) => this.pollLost(obj), lostPollMs: opts.lostPollMs, flush: () => this.flushCounters() });
  }

  /** Throws UnavailableError naming what is missing (capabilities first). */
  async checkCanRun(): Promise<void> {
    let capEff: bigint;
    try {
      capEff = await effectiveCapabilities(this.opts.statusPath);
    } catch (e) {
      throw new UnavailableError(`execsnoop unavailable: cannot read effective capabilities: ${errorMessage(e)}`);
    }
    const missing = missingCapabilities(capEff, this.spec.requiredCapabilities);
    if (missing.length > 0) {
      throw new UnavailableError(`execsnoop unavailable: ${missing.map((c) => `missing capability: ${c}`).join(", ")}`, missing);
    }
    if (!this.kernel) throw new UnavailableError("execsnoop unavailable: cannot read the kernel version from /proc/version");
    if (!kernelAtLeast(this.kernel, 5, 8)) {
      throw new UnavailableError(`execsnoop unavailable: kernel ${this.kernel.raw} is older than 5.8 (no BPF ring buffer)`);
    }
    const btf = this.opts.btfPath ?? "/sys/kernel/btf/vmlinux";
    if (!existsSync(btf))
      throw new UnavailableError(`execsnoop unavailable: kernel BTF ${btf} missing (CO-RE needs CONFIG_DEBUG_INFO_BTF=y)`);
  }

  async start(emit: (event: MetricEvent) => void): Promise<void> {
    if (this.running) throw new Error("execsnoop collector already running");
    await this.checkCanRun();
    this.running = true;
    const log = this.opts.logger;
    try {
      const assets = this.opts.assets ?? ebpfAssets();
      const objPath = assets.objects.execsnoop;
      if (!objPath) throw new Error("execsnoop.bpf.o is not available (run scripts/build-ebpf.sh)");
      const libbpf = loadLibbpf({ source: this.opts.libbpfSource, embedded: assets.libs });
      const obj = this.tracer.hold(BpfObject.openFile(libbpf, objPath, "execsnoop"));
      const maxArgs = this.opts.maxArgs ?? DEFAULT_MAXARGS;
      if (!Number.isInteger(maxArgs) || maxArgs < 1 || maxArgs > TOTAL_MAX_ARGS)
        throw new Error(`maxArgs must be 1..${TOTAL_MAX_ARGS}, got ${maxArgs}`);
      obj.setRodata("max_args", maxArgs);
      const ringBytes = this.opts.ringBytes ?? EXECSNOOP_RINGBUF_BYTES;
      if (this.opts.ringBytes !== undefined) obj.setMaxEntries("events", ringBytes);
      // Wake the reader per batch, not per exec; the worker's timed poll picks up the rest.
      const wakeupBytes = this.opts.wakeupBytes ?? Math.floor(ringBytes / 4);
      obj.setRodata("wakeup_bytes", BigInt(wakeupBytes));
      obj.load();
      const nodeName = this.opts.nodeName ?? "";
      const progIds = await this.tracer.attach({
        name: "execsnoop",
        libbpf,
        programs: EXECSNOOP_PROGRAMS,
        pollIntervalMs: this.opts.pollIntervalMs,
        maxInflightBatches: this.opts.maxInflightBatches,
        onRecord: (view, off, len) => this.ingest(view, off, len, emit, nodeName),
        onBatchEnd: () => this.flushCounters(),
        onOversized: (n) => {
          this.counts.rejected += n;
          this.metrics.recordsRejected.inc({ program: "execsnoop", reason: "oversized" }, n);
        },
        onError: (err) => {
          this.lastError = err;
          log?.error({ err: err.message }, "execsnoop ring buffer reader error");
        },
        beforeRead: () => {
          this.monoToRealNs = clockNs(0) - clockNs(1);
        },
      });
      log?.info({ programs: progIds, libbpf: libbpf.source, version: libbpf.version }, "execsnoop attached");
    } catch (e) {
      await this.tracer.teardown();
      this.running = false;
      this.lastError = e as Error;
      throw e;
    }
  }

  /**
   * Decodes one ring-buffer record and emits it; a malformed record is rejected with an error
   * log line and counted in antimetal_ebpf_records_rejected_total{reason}. Returns whether it was
   * emitted. Emitted events reach antimetal_execsnoop_events_total at the next flushCounters().
   */
  ingest(view: DataView, off: number, len: number, emit: (event: MetricEvent) => void, nodeName = this.opts.nodeName ?? ""): boolean {
    let ev: ExecEvent;
    try {
      ev = parseExecRecord(view, off, len);
    } catch (e) {
      this.reject(e);
      return false;
    }
    this.counts.events++;
    this.unpublished++;
    const wallNs = ev.timestampNs + this.monoToRealNs;
    const when = new Date(Number(wallNs / 1_000_000n));
    const data: ExecRecordData = {
      timestamp: ev.timestampNs,
      time: when.toISOString(),
      pid: ev.pid,
      ppid: ev.ppid,
      uid: ev.uid,
      retval: ev.retval,
      comm: ev.comm,
      command: ev.command,
      args: ev.args,
    };
    emit({ timestamp: when, metricType: "execsnoop", eventType: "event", nodeName, data });
    return true;
  }

  /** Publishes events counted since the last call to antimetal_execsnoop_events_total (once per batch). */
  flushCounters(): void {
    if (this.unpublished > 0) this.metrics.execsnoopEvents.inc(this.unpublished);
    this.unpublished = 0;
  }

  private reject(e: unknown): void {
    const reason = e instanceof RecordError ? e.reason : "invalid";
    this.counts.rejected++;
    this.metrics.recordsRejected.inc({ program: "execsnoop", reason });
    this.opts.logger?.error({ err: errorMessage(e), reason }, "execsnoop record rejected");
  }

  /** Reads the per-CPU lost counters and advances the Prometheus counters by the difference. */
  private pollLost(obj: BpfObject): void {
    // Keep the monotonic -> wall clock offset current (NTP slews the wall clock).
    this.monoToRealNs = clockNs(0) - clockNs(1);
    try {
      const full = obj.percpuU64Sum("lost", 0);
      const pending = obj.percpuU64Sum("lost", 1);
      if (full > this.counts.lostRingbufFull)
        this.metrics.execsnoopLost.inc({ reason: "ringbuf_full" }, Number(full - this.counts.lostRingbufFull));
      if (pending > this.counts.lostPendingFull)
        this.metrics.execsnoopLost.inc({ reason: "pending_full" }, Number(pending - this.counts.lostPendingFull));
      this.counts.lostRingbufFull = full;
      this.counts.lostPendingFull = pending;
    } catch (e) {
      this.lastError = e as Error;
    }
  }

  /** Kernel ids of the loaded programs (empty when stopped). */
  programIds(): number[] {
    return this.tracer.programIds();
  }

  stats(): ExecsnoopStats {
    return { ...this.counts };
  }

  /** Detaches both programs, drains the ring, frees everything. */
  async stop(): Promise<void> {
    if (!this.running) return;
    await this.tracer.teardown();
    this.running = false;
    this.opts.logger?.info(this.statsForLog(), "execsnoop detached");
  }

  private statsForLog(): Record<string, unknown> {
    return {
      events: this.counts.events,
      lost: String(this.counts.lostRingbufFull + this.counts.lostPendingFull),
      rejected: this.counts.rejected,
    };
  }
}

export function createExecsnoopCollector(opts: ExecsnoopOptions = {}): ExecsnoopCollector {
  return new ExecsnoopCollector(opts);
}
