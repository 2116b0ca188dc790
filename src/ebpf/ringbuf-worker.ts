// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * Ring buffer reader thread. ring_buffer__poll blocks, so it runs here and not on the agent's
 * event loop. libbpf invokes the sample callback synchronously on this thread (never from a
 * libbpf thread), and libbpf's consumer uses smp_load_acquire/smp_store_release on the ring's
 * producer/consumer positions, so record bytes are read with the ordering arm64 needs (no
 * direct reads of the mmapped ring from JS, no Atomics on the read-only producer pages).
 *
 * Records are copied into a batch ([u32 length][bytes]...) that is transferred to the main thread
 * after each poll. A shared Int32Array carries [0] stop flag, [1] batches in flight: the reader
 * stops draining while the main thread holds too many batches, so memory stays bounded and the
 * kernel side counts what it cannot store.
 *
 * Must be an entrypoint of the compiled binary (scripts/build.ts passes it to Bun.build).
 */

import { JSCallback, type Pointer, ptr } from "bun:ffi";
import { attachLibbpf, getLibc } from "../../ffi/loader.ts";
import { errorMessage } from "../util/errors.ts";
import type { RingWorkerInit, RingWorkerMessage } from "./ringbuf-protocol.ts";

declare const self: Worker;

const EINTR = 4;

function post(msg: RingWorkerMessage, transfer?: ArrayBuffer[]): void {
  self.postMessage(msg, transfer ?? []);
}

function run(init: RingWorkerInit): void {
  const lib = attachLibbpf(init.libbpfPath);
  const ctrl = new Int32Array(init.control);
  const scratch = new ArrayBuffer(init.batchBytes);
  const u8 = new Uint8Array(scratch);
  const dv = new DataView(scratch);
  const base = ptr(u8) as number;
  const { memcpy } = getLibc();
  let pos = 0;
  let count = 0;
  let oversized = 0;

  const flush = (): void => {
    if (count === 0 && oversized === 0) return;
    const buf = scratch.slice(0, pos);
    Atomics.add(ctrl, 1, 1);
    post({ type: "batch", buf, count, oversized }, [buf]);
    pos = 0;
    count = 0;
    oversized = 0;
  };

  const cb = new JSCallback(
    (_ctx: Pointer | null, data: Pointer, sizeArg: number | bigint): number => {
      const size = Number(sizeArg);
      if (size + 4 > init.batchBytes) {
        oversized++;
        return 0;
      }
      if (pos + 4 + size > init.batchBytes) flush();
      dv.setUint32(pos, size, true);
      // Copy straight from the ring into the batch (one FFI call; no ArrayBuffer per record).
      memcpy((base + pos + 4) as Pointer, data, size);
      pos += 4 + size;
      count++;
      return 0;
    },
    { args: ["ptr", "ptr", "usize"], returns: "i32" },
  );

  const rb = lib.ring_buffer__new(init.mapFd, cb.ptr, null, null);
  if (!rb) {
    cb.close();
    post({ type: "error", message: "ring_buffer__new failed", fatal: true });
    return;
  }
  post({ type: "ready" });
  try {
    while (Atomics.load(ctrl, 0) === 0) {
      const inflight = Atomics.load(ctrl, 1);
      if (inflight >= init.maxInflight) {
        Atomics.wait(ctrl, 1, inflight, 50);
        continue;
      }
      const n = lib.ring_buffer__poll(rb, init.pollTimeoutMs);
      if (n < 0 && n !== -EINTR) {
        post({ type: "error", message: `ring_buffer__poll: errno ${-n}`, fatal: true });
        break;
      }
      // A poll that timed out consumes nothing; records submitted without a wakeup
      // (BPF_RB_NO_WAKEUP below the program's threshold) are read here.
      if (n === 0) lib.ring_buffer__consume(rb);
      flush();
    }
    // Drain what the kernel already committed so stop() loses nothing that was produced.
    lib.ring_buffer__consume(rb);
    flush();
  } finally {
    lib.ring_buffer__free(rb);
    cb.close();
    post({ type: "stopped" });
  }
}

self.onmessage = (ev: MessageEvent<RingWorkerInit>) => {
  try {
    run(ev.data);
  } catch (e) {
    post({ type: "error", message: errorMessage(e), fatal: true });
    post({ type: "stopped" });
  }
};
