// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * The ring-buffer reader (src/ebpf/ringbuf.ts + the Worker reading the mapped ring) against the
 * real kernel, with the execsnoop program as producer: every record arrives once and in order
 * while positions lap a small ring many times, and a backlog drained in large batches (whose
 * buffers the reader reuses) arrives whole.
 */

import { afterEach, describe, expect, test } from "bun:test";
import { ensureTracefs, loadLibbpf } from "../../ffi/loader.ts";
import { ebpfAssets } from "../../src/ebpf/assets.ts";
import { EXECSNOOP_PROGRAMS, parseExecRecord } from "../../src/ebpf/index.ts";
import { BpfObject } from "../../src/ebpf/object.ts";
import { RingBufferReader } from "../../src/ebpf/ringbuf.ts";

const tag = `amrb${process.pid}x${Date.now().toString(36)}`;
let obj: BpfObject | undefined;
let reader: RingBufferReader | undefined;

afterEach(async () => {
  obj?.detach();
  await reader?.stop();
  obj?.close();
  obj = undefined;
  reader = undefined;
});

/** Loads execsnoop with a `ringBytes` ring and starts a reader that collects our tagged execs' sequence numbers. */
async function start(ringBytes: number, wakeupBytes: number, pollTimeoutMs: number, batchBytes?: number) {
  expect(process.getuid?.()).toBe(0); // loads BPF programs: must fail, not skip, without root
  const assets = ebpfAssets();
  const libbpf = loadLibbpf({ embedded: assets.libs });
  obj = BpfObject.openFile(libbpf, assets.objects.execsnoop!, "execsnoop");
  obj.setMaxEntries("events", ringBytes);
  obj.setRodata("wakeup_bytes", BigInt(wakeupBytes));
  obj.load();
  ensureTracefs();
  for (const p of EXECSNOOP_PROGRAMS) obj.attach(p);
  const got = { seqs: [] as number[], batchBytes: [] as number[], current: 0 };
  reader = new RingBufferReader({
    libbpf,
    mapFd: obj.mapFd("events"),
    pollTimeoutMs,
    batchBytes,
    onRecord: (view, off, len) => {
      got.current += len;
      const ev = parseExecRecord(view, off, len);
      if (ev.args[1] === tag) got.seqs.push(Number(ev.args[2]));
    },
    onBatchEnd: () => {
      got.batchBytes.push(got.current);
      got.current = 0;
    },
  });
  await reader.start();
  return got;
}

function lost(): bigint {
  return obj!.percpuU64Sum("lost", 0) + obj!.percpuU64Sum("lost", 1);
}

/** Runs `n` failing execs of a missing path with args [tag, i], one after another. */
async function execs(n: number): Promise<void> {
  const sh = Bun.spawn(["/bin/sh", "-c", `i=0; while [ $i -lt ${n} ]; do /nonexistent/amrb ${tag} $i 2>/dev/null; i=$((i+1)); done`]);
  await sh.exited;
}

describe("ring buffer reader on the real kernel", () => {
  test("records lapping an 8 KiB ring many times arrive once each, in order", async () => {
    const got = await start(8192, 0, 20);
    const N = 600;
    await execs(N);
    obj!.detach();
    await reader!.stop();
    const missed = lost();
    expect(BigInt(got.seqs.length) + missed).toBe(BigInt(N));
    for (let i = 1; i < got.seqs.length; i++) expect(got.seqs[i]!).toBeGreaterThan(got.seqs[i - 1]!);
    if (missed === 0n) expect(got.seqs).toEqual([...Array(N).keys()]);
    // ~100-byte records: the positions went round the ring several times
    expect(got.seqs.length * 100).toBeGreaterThan(4 * 8192);
  }, 60_000);

  test("a backlog drained in large batches arrives whole and in order", async () => {
    // The program wakes the reader once 128 KiB wait (about 1200 records); batches are at most 96 KiB.
    const got = await start(4 << 20, 128 << 10, 1000, 96 << 10);
    const N = 5000;
    await execs(N);
    await Bun.sleep(1500); // the tail below the wakeup threshold is read by the 1 s poll
    obj!.detach();
    await reader!.stop();
    expect(lost()).toBe(0n);
    expect(got.seqs).toEqual([...Array(N).keys()]);
    // every wakeup drains at least 128 KiB: batches over 64 KiB, the size from which the reader
    // copies into buffers the main thread hands back
    expect(got.batchBytes.filter((b) => b >= 64 << 10).length).toBeGreaterThanOrEqual(2);
  }, 60_000);
});
