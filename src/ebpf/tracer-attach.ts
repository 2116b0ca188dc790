// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * The lifecycle every ring-buffer tracer (execsnoop, tcpflow, oomkill, procexit) shares: hold the
 * opened object, attach its programs, read its "events" ring buffer, poll its lost counters, and
 * tear all of it down in one order (detach, drain, flush, last lost poll, close).
 */

import { ensureTracefs, type LoadedLibbpf } from "../../ffi/loader.ts";
import type { BpfObject } from "./object.ts";
import { RingBufferReader, type RingBufferReaderOptions } from "./ringbuf.ts";
import { InlineRingReader, type RingReader } from "./ringbuf-inline.ts";

export interface TracerAttachOptions {
  /** The tracer's name: the reader's queue is "<name>_ringbuf_batches". */
  name: string;
  libbpf: LoadedLibbpf;
  /** Loaded (not yet attached). */
  obj: BpfObject;
  programs: readonly string[];
  pollIntervalMs?: number;
  maxInflightBatches?: number;
  /**
   * Read the ring on the main thread on a timer (src/ebpf/ringbuf-inline.ts) instead of in a reader
   * Worker: for tracers whose records come a few per second and need no prompt wakeup (procexit, oomkill),
   * where a thread's memory costs more than the reads.
   */
  inline?: boolean;
  onRecord: RingBufferReaderOptions["onRecord"];
  onBatchEnd?: () => void;
  onOversized?: (n: number) => void;
  onError?: (err: Error) => void;
}

/**
 * Attaches every program and builds the reader of the object's "events" ring buffer (not started:
 * the caller keeps it before starting it, so its teardown stops it if the start fails).
 */
export function attachTracer(o: TracerAttachOptions): { progIds: number[]; reader: RingReader } {
  ensureTracefs();
  for (const p of o.programs) o.obj.attach(p);
  const progIds = o.programs.map((p) => o.obj.programId(p));
  const common = {
    libbpf: o.libbpf,
    mapFd: o.obj.mapFd("events"),
    queueName: `${o.name}_ringbuf_batches`,
    pollTimeoutMs: o.pollIntervalMs ?? 100,
    onRecord: o.onRecord,
    onBatchEnd: o.onBatchEnd,
    onOversized: o.onOversized,
    onError: o.onError,
  };
  const reader = o.inline ? new InlineRingReader(common) : new RingBufferReader({ ...common, maxInflight: o.maxInflightBatches ?? 64 });
  return { progIds, reader };
}

export interface TracerHooks {
  /** Reads the object's per-CPU lost counters into the tracer's own metrics (on the timer, and once after the final drain). */
  pollLost?: (obj: BpfObject) => void;
  /** How often pollLost runs while attached (ms, default 1000). */
  lostPollMs?: number;
  /** Unref the lost timer (it then does not keep the process alive). */
  unrefLostTimer?: boolean;
  /** At teardown, after the reader's final drain and before the last lost poll: publish what is still counted. */
  flush?: () => void;
}

export interface TracerReadOptions extends Omit<TracerAttachOptions, "obj"> {
  /** Runs after the programs are attached, just before the reader starts (e.g. to take the clock offset). */
  beforeRead?: () => void;
}

/**
 * One tracer's kernel side: `hold` the object as soon as it is opened (so a failed load is closed
 * too), `attach` once it is loaded, `teardown` to undo whatever was done. Composed into each
 * tracer (they differ in shape: collector class, factory), not inherited.
 */
export class Tracer {
  private obj: BpfObject | undefined;
  private reader: RingReader | undefined;
  private lostTimer: ReturnType<typeof setInterval> | undefined;
  private progIds: number[] = [];

  constructor(private readonly hooks: TracerHooks = {}) {}

  /** Keeps a just-opened object; teardown closes it from then on. */
  hold(obj: BpfObject): BpfObject {
    this.obj = obj;
    return obj;
  }

  /** Attaches the held (loaded) object's programs, starts its ring-buffer reader and the lost poll; returns the program ids. */
  async attach(o: TracerReadOptions): Promise<number[]> {
    const obj = this.obj;
    if (!obj) throw new Error(`${o.name}: no object held to attach`);
    const attached = attachTracer({ ...o, obj });
    this.progIds = attached.progIds;
    o.beforeRead?.();
    this.reader = attached.reader;
    await this.reader.start();
    if (this.hooks.pollLost) {
      this.lostTimer = setInterval(() => this.pollLost(), this.hooks.lostPollMs ?? 1000);
      if (this.hooks.unrefLostTimer) this.lostTimer.unref?.();
    }
    return this.progIds;
  }

  /** Reads the lost counters now (nothing when no object is held). */
  pollLost(): void {
    if (this.obj) this.hooks.pollLost?.(this.obj);
  }

  /** Kernel ids of the attached programs (empty when torn down). */
  programIds(): number[] {
    return [...this.progIds];
  }

  /** Stops the lost poll, detaches (no record arrives after the final drain), drains and stops the reader, flushes, polls lost once more, closes. */
  async teardown(): Promise<void> {
    if (this.lostTimer) clearInterval(this.lostTimer);
    this.lostTimer = undefined;
    this.obj?.detach();
    if (this.reader) await this.reader.stop();
    this.reader = undefined;
    this.hooks.flush?.();
    if (this.obj) {
      this.pollLost();
      this.obj.close();
    }
    this.obj = undefined;
    this.progIds = [];
  }
}
