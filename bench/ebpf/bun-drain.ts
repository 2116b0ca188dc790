// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Child process of bench/ebpf/run.ts (b): the Bun side of the raw ring-buffer drain. Loads the
// execsnoop object with a large ring, attaches, prints "ready", waits for a stdin line (the ring is
// full by then), detaches and times ring_buffer__consume() with the same JSCallback copy the
// reader worker uses, then decodes every copied record with the generated decoder.

import { JSCallback, type Pointer, ptr } from "bun:ffi";
import { ensureTracefs, getLibc, loadLibbpf } from "../../ffi/loader.ts";
import { ebpfAssets } from "../../src/ebpf/assets.ts";
import { EXECSNOOP_PROGRAMS, parseExecRecord } from "../../src/ebpf/index.ts";
import { BpfObject } from "../../src/ebpf/object.ts";

const ringBytes = Number(process.argv[2] ?? 64 << 20);
const assets = ebpfAssets();
const libbpf = loadLibbpf({ embedded: assets.libs });
const obj = BpfObject.openFile(libbpf, assets.objects.execsnoop!, "execsnoop");
obj.setMaxEntries("events", ringBytes);
obj.load();
ensureTracefs();
for (const p of EXECSNOOP_PROGRAMS) obj.attach(p);

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
const rb = libbpf.lib.ring_buffer__new(obj.mapFd("events"), cb.ptr, null, null);
if (!rb) throw new Error("ring_buffer__new failed");
console.log("ready");
for await (const _line of console) break;
obj.detach();
const t0 = Bun.nanoseconds();
const ret = libbpf.lib.ring_buffer__consume(rb);
const drainNs = Bun.nanoseconds() - t0;
const t1 = Bun.nanoseconds();
let off = 0;
let decoded = 0;
for (let i = 0; i < records; i++) {
  const len = dv.getUint32(off, true);
  parseExecRecord(dv, off + 4, len);
  decoded++;
  off += 4 + len;
}
const decodeNs = Bun.nanoseconds() - t1;
libbpf.lib.ring_buffer__free(rb);
cb.close();
obj.close();
console.log(JSON.stringify({ records, bytes, seconds: drainNs / 1e9, decodeSeconds: decodeNs / 1e9, decoded, ret }));
process.exit(0);
