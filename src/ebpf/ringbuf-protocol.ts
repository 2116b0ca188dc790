// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/** Messages between src/ebpf/ringbuf.ts (main thread) and src/ebpf/ringbuf-worker.ts. */

export interface RingWorkerInit {
  /** The ring's data size (read on the main thread, so the reader thread loads no libbpf). */
  ringSize: number;
  mapFd: number;
  /** SharedArrayBuffer of 2 x Int32: [0] stop flag, [1] batches posted and not yet processed. */
  control: SharedArrayBuffer;
  pollTimeoutMs: number;
  /** Largest batch; a record bigger than this minus its 8-byte header is dropped and counted as oversized. */
  batchBytes: number;
  maxInflight: number;
  /**
   * Buffers of batches the main thread has processed come back on this port (transferred), so
   * large batches reuse memory that is already faulted in instead of fresh pages each time.
   */
  recycle: MessagePort;
}

/** Batches at least this large are copied into recycled buffers (smaller ones get exact-size buffers). */
export const RECYCLE_MIN_BYTES = 64 << 10;
/** Recycled buffers the reader keeps at most; more are left to the garbage collector. */
export const RECYCLE_POOL = 4;

export type RingWorkerMessage =
  | { type: "ready" }
  /** `buf`'s first `len` bytes: consecutive ring records ([u32 len][u32 pg_off][payload padded to 8]...), `count` of them not discarded. */
  | { type: "batch"; buf: ArrayBuffer; len: number; count: number; oversized: number }
  | { type: "error"; message: string; fatal: boolean }
  | { type: "stopped" };
