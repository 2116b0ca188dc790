// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Child process of bench/ebpf/run.ts (b): the Bun side of the raw ring-buffer drain. Loads the
// execsnoop object with a large ring, attaches, prints "ready", waits for a stdin line (the ring is
// full by then), detaches and times one drain of the ring, then decodes every record with the
// generated decoder. Modes (argv[3]):
//   direct   (default) the reader Worker's own code (src/ebpf/ringbuf-map.ts) on this thread: the
//            mapped ring walked in JS, one copy per batch of up to 1 MiB into a reused buffer;
//   callback the previous reader: ring_buffer__consume() with a JSCallback memcpy-ing each record;
//   reader   end to end through RingBufferReader (Worker, batches posted to this thread, onRecord
//            per record), timed from start() resolving (the Worker is up) to the last record.

import { JSCallback, type Pointer, ptr } from "bun:ffi";
import { ensureTracefs, getLibc, loadLibbpf } from "../../ffi/loader.ts";
import { ebpfAssets } from "../../src/ebpf/assets.ts";
import { EXECSNOOP_PROGRAMS, parseExecRecord } from "../../src/ebpf/index.ts";
import { BpfObject } from "../../src/ebpf/object.ts";
import { RingBufferReader } from "../../src/ebpf/ringbuf.ts";
import { BatchBuffers, MappedRing } from "../../src/ebpf/ringbuf-map.ts";
import { forEachBatchRecord } from "../../src/ebpf/ringbuf-walk.ts";

const ringBytes = Number(process.argv[2] ?? 64 << 20);
const mode = process.argv[3] ?? "direct";
const assets = ebpfAssets();
const libbpf = loadLibbpf({ embedded: assets.libs });
const obj = BpfObject.openFile(libbpf, assets.objects.execsnoop!, "execsnoop");
obj.setMaxEntries("events", ringBytes);
obj.load();
ensureTracefs();
for (const p of EXECSNOOP_PROGRAMS) obj.attach(p);
const fd = obj.mapFd("events");

let records = 0;
let bytes = 0;
let drainNs = 0;
let decodeNs = 0;
let decoded = 0;
let ret = 0;
const decode = (view: DataView, off: number, len: number): void => {
  parseExecRecord(view, off, len);
  decoded++;
};

if (mode === "direct") {
  // As the reader Worker, with a consumer that decodes each batch at once and returns its buffer;
  // the decoding is timed apart and subtracted.
  const ring = new MappedRing(libbpf.lib, fd);
  const returned: ArrayBuffer[] = [];
  const { alloc } = new BatchBuffers(1 << 20, () => returned.pop());
  console.log("ready");
  for await (const _line of console) break;
  obj.detach();
  const t0 = Bun.nanoseconds();
  records = ring.drain(1 << 20, alloc, (buf, len) => {
    const t1 = Bun.nanoseconds();
    bytes += len;
    forEachBatchRecord(new DataView(buf, 0, len), decode);
    returned.push(buf);
    decodeNs += Bun.nanoseconds() - t1;
  });
  drainNs = Bun.nanoseconds() - t0 - decodeNs;
  ring.close();
} else if (mode === "callback") {
  const batch = new ArrayBuffer(256 << 20);
  const u8 = new Uint8Array(batch);
  const dv = new DataView(batch);
  const base = ptr(u8) as number;
  const { memcpy } = getLibc();
  let pos = 0;
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
  console.log("ready");
  for await (const _line of console) break;
  obj.detach();
  const t0 = Bun.nanoseconds();
  ret = libbpf.lib.ring_buffer__consume(rb);
  drainNs = Bun.nanoseconds() - t0;
  const t1 = Bun.nanoseconds();
  let off = 0;
  for (let i = 0; i < records; i++) {
    const len = dv.getUint32(off, true);
    decode(dv, off + 4, len);
    off += 4 + len;
  }
  decodeNs = Bun.nanoseconds() - t1;
  libbpf.lib.ring_buffer__free(rb);
  cb.close();
} else if (mode === "reader") {
  // Records are counted, not decoded, so the figure is the reader's own cost.
  let last = 0;
  const reader = new RingBufferReader({
    libbpf,
    mapFd: fd,
    onRecord: (_v, _o, len) => {
      records++;
      bytes += len;
      last = Bun.nanoseconds();
    },
  });
  console.log("ready");
  for await (const _line of console) break;
  obj.detach();
  await reader.start();
  const t0 = Bun.nanoseconds(); // from the worker's "ready" (it starts draining as it posts that)
  let seen = -1;
  while (seen !== records) {
    seen = records;
    await Bun.sleep(200);
  }
  drainNs = last - t0;
  await reader.stop();
} else {
  throw new Error(`unknown mode ${mode}`);
}
obj.close();
console.log(JSON.stringify({ mode, records, bytes, seconds: drainNs / 1e9, decodeSeconds: decodeNs / 1e9, decoded, ret }));
process.exit(0);
