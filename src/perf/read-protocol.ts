// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Messages between the read pool (src/perf/read-pool.ts) and its reader threads (read-worker.ts).

/** One filesystem call a reader thread makes synchronously (it may block in the kernel for good). */
export type ReadOp =
  /** The whole file as UTF-8, at most maxBytes; with regularOnly, a FIFO, socket or device is refused without reading. */
  | {
      op: "read";
      path: string;
      maxBytes: number;
      regularOnly: boolean;
      /** The file is on a verified procfs mount (it has no FIFOs or devices): the native lane reads it in one call (native-read.ts). */
      procfs?: boolean;
    }
  /** Several small files in one round trip (a sysfs directory's attributes); each answers on its own. */
  | { op: "readMany"; paths: string[]; maxBytes: number; regularOnly: boolean }
  | { op: "list"; path: string }
  | { op: "stat"; path: string }
  | { op: "statfs"; path: string }
  | { op: "readlink"; path: string }
  | { op: "realpath"; path: string };

/** First message to a reader thread: where to reply, and the counter it bumps after each reply. */
export interface ReadWorkerInit {
  port: import("node:worker_threads").MessagePort;
  signals: SharedArrayBuffer;
}

export interface ReadRequest {
  id: number;
  op: ReadOp;
}

/** One file of a readMany: its text, or the error code and message of reading it. */
export type WireFileResult = { text: string } | { code: string; message: string };

/** A directory entry as sent between threads: the name and the d_type class. */
export interface WireDirent {
  name: string;
  kind: "dir" | "file" | "link" | "other";
}

export interface WireStat {
  isDirectory: boolean;
  isFile: boolean;
  size: number;
}

export interface WireStatfs {
  type: bigint;
  bsize: bigint;
  blocks: bigint;
  bfree: bigint;
  bavail: bigint;
  files: bigint;
  ffree: bigint;
}

export type ReadReply =
  | { id: number; ok: true; value: string | WireDirent[] | WireStat | WireStatfs | WireFileResult[] }
  | { id: number; ok: false; code?: string; message: string };
