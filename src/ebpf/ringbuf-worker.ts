// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * Ring buffer reader thread: waits on the ring's epoll fd (a blocking call, so not on the agent's
 * event loop) and drains the mapped ring directly (src/ebpf/ringbuf-map.ts, which also holds the
 * memory-ordering argument): no call into libbpf or JS callback per record. libbpf is not loaded
 * here at all (the main thread reads the ring's size); loading and attaching stay on the main thread.
 *
 * Each batch is one copy of consecutive records in ring layout ([u32 len][u32 pg_off][payload,
 * padded to 8]...), transferred to the main thread; large batches' buffers come back on a port and
 * are reused (a few at most), so a burst does not fault in fresh pages for every batch. A shared Int32Array carries [0] stop flag,
 * [1] batches in flight: the reader stops draining while the main thread holds too many batches,
 * so memory stays bounded and the kernel side counts what it cannot store.
 *
 * Must be an entrypoint of the compiled binary (scripts/build.ts passes it to Bun.build).
 */

import { receiveMessageOnPort } from "node:worker_threads";
import { errorMessage } from "../util/errors.ts";
import { BatchBuffers, MappedRing } from "./ringbuf-map.ts";
import type { RingWorkerInit, RingWorkerMessage } from "./ringbuf-protocol.ts";

declare const self: Worker;

function post(msg: RingWorkerMessage, transfer?: ArrayBuffer[]): void {
  self.postMessage(msg, transfer ?? []);
}

function run(init: RingWorkerInit): void {
  const ctrl = new Int32Array(init.control);
  let ring: MappedRing;
  try {
    ring = new MappedRing(init.ringSize, init.mapFd);
  } catch (e) {
    post({ type: "error", message: `ring buffer: ${errorMessage(e)}`, fatal: true });
    post({ type: "stopped" });
    return;
  }
  const { alloc } = new BatchBuffers(init.batchBytes, () => receiveMessageOnPort(init.recycle)?.message as ArrayBuffer | undefined);
  const sink = (buf: ArrayBuffer, len: number, count: number, oversized: number): void => {
    Atomics.add(ctrl, 1, 1);
    post({ type: "batch", buf, len, count, oversized }, [buf]);
  };
  const room = (): boolean => Atomics.load(ctrl, 1) < init.maxInflight;
  post({ type: "ready" });
  try {
    while (Atomics.load(ctrl, 0) === 0) {
      const inflight = Atomics.load(ctrl, 1);
      if (inflight >= init.maxInflight) {
        Atomics.wait(ctrl, 1, inflight, 50);
        continue;
      }
      // Drain before waiting: records submitted without a wakeup (BPF_RB_NO_WAKEUP below the
      // program's threshold) are read after at most one timeout.
      ring.drain(init.batchBytes, alloc, sink, room);
      if (ring.pending() > 0 && !room()) continue;
      ring.wait(init.pollTimeoutMs);
    }
    // Drain what the kernel already committed so stop() loses nothing that was produced.
    ring.drain(init.batchBytes, alloc, sink);
  } catch (e) {
    post({ type: "error", message: `ring buffer: ${errorMessage(e)}`, fatal: true });
  } finally {
    ring.close();
    init.recycle.close();
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
