// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/** The attach step the ring-buffer tracers (execsnoop, tcpflow) share: attach the programs, build the "events" reader. */

import { ensureTracefs, type LoadedLibbpf } from "../../ffi/loader.ts";
import type { BpfObject } from "./object.ts";
import { RingBufferReader, type RingBufferReaderOptions } from "./ringbuf.ts";

export interface TracerAttachOptions {
  /** The tracer's name: the reader's queue is "<name>_ringbuf_batches". */
  name: string;
  libbpf: LoadedLibbpf;
  /** Loaded (not yet attached). */
  obj: BpfObject;
  programs: readonly string[];
  pollIntervalMs?: number;
  maxInflightBatches?: number;
  onRecord: RingBufferReaderOptions["onRecord"];
  onBatchEnd: () => void;
  onOversized: (n: number) => void;
  onError: (err: Error) => void;
}

/**
 * Attaches every program and builds the reader of the object's "events" ring buffer (not started:
 * the caller keeps it before starting it, so its teardown stops it if the start fails).
 */
export function attachTracer(o: TracerAttachOptions): { progIds: number[]; reader: RingBufferReader } {
  ensureTracefs();
  for (const p of o.programs) o.obj.attach(p);
  const progIds = o.programs.map((p) => o.obj.programId(p));
  const reader = new RingBufferReader({
    libbpf: o.libbpf,
    mapFd: o.obj.mapFd("events"),
    queueName: `${o.name}_ringbuf_batches`,
    pollTimeoutMs: o.pollIntervalMs ?? 100,
    maxInflight: o.maxInflightBatches ?? 64,
    onRecord: o.onRecord,
    onBatchEnd: o.onBatchEnd,
    onOversized: o.onOversized,
    onError: o.onError,
  });
  return { progIds, reader };
}
