// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Child process of bench/ebpf/run.ts (b): the Bun side of the raw ring-buffer drain. Loads the
// execsnoop object with a large ring; twice (round 0 cold, round 1 with the code warm, as a
// running reader is): attaches, prints "ready", waits for a stdin line (the ring is full by then),
// detaches, times one drain of the ring, decodes every record with the generated decoder and
// prints one JSON line. Modes (argv[3]):
//   direct   (default) the reader Worker's own code (src/ebpf/ringbuf-map.ts) on this thread: the
//            mapped ring walked in JS, one copy per batch of up to 1 MiB into a reused buffer,
//            with a consumer that returns each buffer at once (decoding is timed apart on the
//            first batch of round 0 and scaled to every record);
//   callback the previous reader: ring_buffer__consume() with a JSCallback memcpy-ing each record;
//   reader   end to end through RingBufferReader (Worker, batches posted to this thread, onRecord
//            per record, not decoded), timed from start() resolving (the Worker is up) to the
//            last record; round 1 starts a new reader (a new Worker).

import { JSCallback, type Pointer, ptr } from "bun:ffi";
import { ensureTracefs, getLibc, loadLibbpf } from "../../ffi/loader.ts";
import { ebpfAssets } from "../../src/ebpf/assets.ts";
import { EXECSNOOP_PROGRAMS, parseExecRecord } from "../../src/ebpf/index.ts";
import { BpfObject } from "../../src/ebpf/object.ts";
import { DEFAULT_BATCH_BYTES, RingBufferReader } from "../../src/ebpf/ringbuf.ts";
import { BatchBuffers, MappedRing, ringSize } from "../../src/ebpf/ringbuf-map.ts";
import { forEachBatchRecord } from "../../src/ebpf/ringbuf-walk.ts";

const ringBytes = Number(process.argv[2] ?? 64 << 20);
const mode = process.argv[3] ?? "direct";
/** The reader's batch size (RingBufferReader's default unless DRAIN_BATCH_BYTES says otherwise). */
const BATCH_BYTES = Number(process.env.DRAIN_BATCH_BYTES ?? DEFAULT_BATCH_BYTES);
const assets = ebpfAssets();
const libbpf = loadLibbpf({ embedded: assets.libs });
const obj = BpfObject.openFile(libbpf, assets.objects.execsnoop!, "execsnoop");
obj.setMaxEntries("events", ringBytes);
obj.load();
ensureTracefs();
const fd = obj.mapFd("events");
const lines = console[Symbol.asyncIterator]();

interface Round {
  records: number;
  bytes: number;
  drainNs: number;
  decodeNs: number;
  ret: number;
}
const decode = (view: DataView, off: number, len: number): void => {
  parseExecRecord(view, off, len);
};

/** Attaches, says ready, waits for the ring to be filled, detaches. */
async function filled(): Promise<void> {
  for (const p of EXECSNOOP_PROGRAMS) obj.attach(p);
  console.log("ready");
  await lines.next();
  obj.detach();
}

function direct(): () => Promise<Round> {
  const ring = new MappedRing(ringSize(libbpf.lib, fd), fd);
  const returned: ArrayBuffer[] = [];
  const { alloc } = new BatchBuffers(BATCH_BYTES, () => returned.pop());
  // the first batch of round 0 is kept to time decoding apart; its buffer is touched beforehand
  const sample = new Uint8Array(1 << 20).fill(1);
  let sampleLen = 0;
  return async () => {
    await filled();
    const r: Round = { records: 0, bytes: 0, drainNs: 0, decodeNs: 0, ret: 0 };
    const t0 = Bun.nanoseconds();
    // the consumer takes each batch as C's callback takes each record, and hands the buffer back
    r.records = ring.drain(BATCH_BYTES, alloc, (buf, len) => {
      r.bytes += len;
      if (sampleLen === 0) {
        sample.set(new Uint8Array(buf, 0, len));
        sampleLen = len;
      }
      returned.push(buf);
    });
    r.drainNs = Bun.nanoseconds() - t0;
    const t1 = Bun.nanoseconds();
    const n = forEachBatchRecord(new DataView(sample.buffer, 0, sampleLen), decode);
    r.decodeNs = n > 0 ? ((Bun.nanoseconds() - t1) / n) * r.records : 0;
    return r;
  };
}

function callback(): () => Promise<Round> {
  const batch = new ArrayBuffer(256 << 20);
  const u8 = new Uint8Array(batch);
  const dv = new DataView(batch);
  const base = ptr(u8) as number;
  const { memcpy } = getLibc();
  let pos = 0;
  let records = 0;
  let bytes = 0;
  const cb = new JSCallback(
    (_ctx: Pointer | null, data: Pointer, sizeArg: number | bigint): number => {
      const size = Number(sizeArg);
      dv.setUint32(pos, size, true);
      memcpy((base + pos + 4) as Pointer, data, size);
      pos += 4 + size;
      records++;
      bytes += size;
      return 0;
    },
    { args: ["ptr", "ptr", "usize"], returns: "i32" },
  );
  const rb = libbpf.lib.ring_buffer__new(fd, cb.ptr, null, null);
  if (!rb) throw new Error("ring_buffer__new failed");
  return async () => {
    await filled();
    pos = records = bytes = 0;
    const t0 = Bun.nanoseconds();
    const ret = libbpf.lib.ring_buffer__consume(rb);
    const drainNs = Bun.nanoseconds() - t0;
    const t1 = Bun.nanoseconds();
    let off = 0;
    for (let i = 0; i < records; i++) {
      const len = dv.getUint32(off, true);
      decode(dv, off + 4, len);
      off += 4 + len;
    }
    return { records, bytes, drainNs, decodeNs: Bun.nanoseconds() - t1, ret };
  };
}

function reader(): () => Promise<Round> {
  return async () => {
    await filled();
    const r: Round = { records: 0, bytes: 0, drainNs: 0, decodeNs: 0, ret: 0 };
    let last = 0;
    const rd = new RingBufferReader({
      libbpf,
      batchBytes: BATCH_BYTES,
      mapFd: fd,
      onRecord: (_v, _o, len) => {
        r.records++;
        r.bytes += len;
      },
      // the clock is read once a batch (reading it per record cost more than the rest of onRecord)
      onBatchEnd: () => {
        last = Bun.nanoseconds();
      },
    });
    await rd.start();
    const t0 = Bun.nanoseconds(); // from the worker's "ready" (it starts draining as it posts that)
    let seen = -1;
    while (seen !== r.records) {
      seen = r.records;
      await Bun.sleep(200);
    }
    r.drainNs = last - t0;
    await rd.stop();
    return r;
  };
}

const round = mode === "direct" ? direct() : mode === "callback" ? callback() : mode === "reader" ? reader() : undefined;
if (!round) throw new Error(`unknown mode ${mode}`);
for (let i = 0; i < 2; i++) {
  const r = await round();
  console.log(
    JSON.stringify({
      mode,
      round: i,
      records: r.records,
      bytes: r.bytes,
      seconds: r.drainNs / 1e9,
      decodeSeconds: r.decodeNs / 1e9,
      ret: r.ret,
    }),
  );
}
obj.close();
process.exit(0);
