// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * Process exit and exec events for the runtime graph's live updates: loads ebpf/src/procexit.bpf.c,
 * attaches sched_process_exit and sched_process_exec, reads the ring buffer on the main thread on a
 * timer (src/ebpf/ringbuf-inline.ts: no reader Worker for a few events a second) and hands decoded
 * events to the caller in batches.
 */

import { existsSync } from "node:fs";
import { Counter } from "prom-client";
import { type LibbpfSource, loadLibbpf } from "../../ffi/loader.ts";
import type { Logger } from "../log/logger.ts";
import { registry } from "../metrics/registry.ts";
import { effectiveCapabilities, missingCapabilities } from "../system/capabilities.ts";
import { kernelAtLeast } from "../system/kernel-version.ts";
import { type EbpfAssets, ebpfAssets } from "./assets.ts";
import { ebpfCapabilities, readKernelVersion } from "./features.ts";
import {
  decodeProcexitEvent,
  PROCEXIT_EVENT_SIZE,
  PROCEXIT_KIND_EXEC,
  PROCEXIT_KIND_EXIT,
  PROCEXIT_RINGBUF_BYTES,
} from "./gen/procexit_types.ts";
import { BpfObject } from "./object.ts";
import { Tracer } from "./tracer-attach.ts";

export const PROCEXIT_PROGRAMS = ["tracepoint__sched__sched_process_exit", "tracepoint__sched__sched_process_exec"] as const;

export interface ProcessEvent {
  kind: "exit" | "exec";
  pid: number;
  ppid: number;
  comm: string;
}

/** What the runtime graph needs from a live event source (so it does not depend on eBPF). */
export interface ProcessEventSource {
  /** Starts delivering batches; rejects with the reason it cannot run here. */
  start(onEvents: (events: ProcessEvent[]) => void): Promise<void>;
  stop(): Promise<void>;
}

const events = new Counter({
  name: "antimetal_procexit_events_total",
  help: "Process exit and exec events read from the procexit eBPF program, by kind.",
  labelNames: ["kind"] as const,
  registers: [registry],
});
const lost = new Counter({
  name: "antimetal_procexit_lost_total",
  help: "Process events the procexit program could not hand over (ring buffer full).",
  registers: [registry],
});

export interface ProcexitOptions {
  logger?: Logger;
  libbpfSource?: LibbpfSource;
  assets?: EbpfAssets;
  /** Longest a record waits in the ring before the reader polls it (ms, default 100). */
  pollIntervalMs?: number;
}

/** The procexit tracer (one per agent). */
export function createProcexitTracer(opts: ProcexitOptions = {}): ProcessEventSource {
  let lostSeen = 0n;
  let batch: ProcessEvent[] = [];
  const pollLost = (obj: BpfObject) => {
    const n = obj.percpuU64Sum("lost", 0);
    if (n > lostSeen) lost.inc(Number(n - lostSeen));
    lostSeen = n;
  };
  const tracer = new Tracer({ pollLost, unrefLostTimer: true });
  const teardown = () => tracer.teardown();
  return {
    async start(onEvents) {
      const kernel = readKernelVersion();
      const missing = missingCapabilities(await effectiveCapabilities(), ebpfCapabilities(kernel));
      if (missing.length) throw new Error(`procexit unavailable: missing capability: ${missing.join(", ")}`);
      if (!kernel || !kernelAtLeast(kernel, 5, 8)) throw new Error("procexit unavailable: kernel older than 5.8 (no BPF ring buffer)");
      if (!existsSync("/sys/kernel/btf/vmlinux")) throw new Error("procexit unavailable: no kernel BTF (/sys/kernel/btf/vmlinux)");
      const assets = opts.assets ?? ebpfAssets();
      const path = assets.objects.procexit;
      if (!path) throw new Error("procexit.bpf.o is not available (run scripts/build-ebpf.sh)");
      try {
        const libbpf = loadLibbpf({ source: opts.libbpfSource, embedded: assets.libs });
        const obj = tracer.hold(BpfObject.openFile(libbpf, path, "procexit"));
        // Batch wakeups (a quarter of the ring); the reader's timed poll bounds the wait.
        obj.setRodata("wakeup_bytes", BigInt(PROCEXIT_RINGBUF_BYTES / 4));
        obj.load();
        await tracer.attach({
          name: "procexit",
          libbpf,
          programs: PROCEXIT_PROGRAMS,
          pollIntervalMs: opts.pollIntervalMs,
          inline: true,
          onRecord: (view, off, len) => {
            if (len < PROCEXIT_EVENT_SIZE) return;
            const ev = decodeProcexitEvent(view, off);
            const kind = ev.kind === PROCEXIT_KIND_EXIT ? "exit" : ev.kind === PROCEXIT_KIND_EXEC ? "exec" : undefined;
            if (!kind) return;
            events.inc({ kind });
            batch.push({ kind, pid: ev.pid, ppid: ev.ppid, comm: ev.comm });
          },
          onBatchEnd: () => {
            if (!batch.length) return;
            const b = batch;
            batch = [];
            onEvents(b);
          },
          onOversized: () => undefined,
          onError: (err) => opts.logger?.error({ err: err.message }, "procexit ring buffer reader error"),
        });
        opts.logger?.info({ programs: PROCEXIT_PROGRAMS, libbpf: libbpf.source }, "procexit attached");
      } catch (e) {
        await teardown();
        throw e;
      }
    },
    stop: teardown,
  };
}
