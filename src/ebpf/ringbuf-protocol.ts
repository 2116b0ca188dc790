// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/** Messages between src/ebpf/ringbuf.ts (main thread) and src/ebpf/ringbuf-worker.ts. */

export interface RingWorkerInit {
  libbpfPath: string;
  mapFd: number;
  /** SharedArrayBuffer of 2 x Int32: [0] stop flag, [1] batches posted and not yet processed. */
  control: SharedArrayBuffer;
  pollTimeoutMs: number;
  /** Largest batch; a record bigger than this minus 4 is dropped and counted as oversized. */
  batchBytes: number;
  maxInflight: number;
}

export type RingWorkerMessage =
  | { type: "ready" }
  | { type: "batch"; buf: ArrayBuffer; count: number; oversized: number }
  | { type: "error"; message: string; fatal: boolean }
  | { type: "stopped" };
