// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The native lane: its switching (one call at a time, a missed deadline closes it for good, the
// stuck call listed and counted against its owner's cap) with a scripted runner, and its calls on
// Bun's I/O threads against the reader threads' results, with a FIFO opened blocking as a hung file.

import { afterEach, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { readBounded } from "./bounded-read.ts";
import { errCode, HostIo } from "./io.ts";
import { NativeLane, readBoundedAsync, readProcfsAsync, runNative } from "./native-read.ts";
import { ReadPool } from "./read-pool.ts";
import type { ReadOp } from "./read-protocol.ts";

const dirs: string[] = [];
const fifos: string[] = [];
const pools: ReadPool[] = [];
afterEach(() => {
  for (const f of fifos.splice(0)) {
    try {
      fs.closeSync(fs.openSync(f, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK)); // releases readers blocked in open
    } catch (e) {
      if (errCode(e) !== "ENXIO") throw e; // no reader left
    }
  }
  for (const p of pools.splice(0)) p.close();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "native-read-"));
  dirs.push(d);
  return d;
}

async function until(what: string, ok: () => boolean): Promise<void> {
  for (const end = Date.now() + 10_000; !ok(); await Bun.sleep(5)) if (Date.now() > end) throw new Error(`not within 10 s: ${what}`);
}

/** A runner whose calls finish when the test says: `pending` holds them in call order. */
function scripted() {
  const pending: { op: ReadOp; resolve: (v: unknown) => void; reject: (e: unknown) => void }[] = [];
  const runner = (op: ReadOp) => new Promise<unknown>((resolve, reject) => pending.push({ op, resolve, reject }));
  return { pending, runner };
}

const read = (p: string): ReadOp => ({ op: "read", path: p, maxBytes: 1024, regularOnly: true });
const never = (): Promise<string> => Promise.reject(new Error("fallback not expected"));

test("one call at a time, in order; answers and errors reach their callers", async () => {
  const s = scripted();
  const lane = new NativeLane({ runner: s.runner, deadlineMs: 10_000 });
  const a = lane.run(read("/a"), "x", never);
  const b = lane.run(read("/b"), "y", never);
  expect(s.pending.map((c) => c.op)).toEqual([read("/a")]);
  expect(lane.inflightOf("y")).toEqual(["read /b"]);
  s.pending[0]!.resolve("A");
  expect(await a).toBe("A");
  await until("b started", () => s.pending.length === 2);
  s.pending[1]!.reject(Object.assign(new Error("gone"), { code: "ENOENT" }));
  expect(errCode(await b.catch((e) => e))).toBe("ENOENT");
  expect(lane.open).toBe(true);
  expect(lane.stuckCalls()).toEqual([]);
});

test("a runner that throws at once rejects its call and the lane goes on", async () => {
  let n = 0;
  const lane = new NativeLane({
    runner: (op) => {
      if (n++ === 0) throw new Error("bad op");
      return Promise.resolve(op.op);
    },
  });
  expect(String(await lane.run(read("/a"), "", never).catch((e) => e))).toContain("bad op");
  expect(await lane.run(read("/b"), "", never)).toBe("read");
});

test("a call past the deadline is stuck: the lane closes for good, queued and later calls go to the fallback", async () => {
  const s = scripted();
  const lane = new NativeLane({ runner: s.runner, deadlineMs: 50 });
  const stuck = lane.run(read("/hung"), "runtime_graph", never);
  const queued = lane.run(read("/b"), "other", async () => "b via pool");
  await until("the call stuck", () => !lane.open);
  expect(lane.closedReason).toBe("read /hung did not return within 50 ms");
  expect(lane.stuckCalls()).toEqual(["read /hung (runtime_graph)"]);
  expect(lane.stuckOf("runtime_graph")).toEqual(["read /hung"]);
  expect(lane.stuckOf("other")).toEqual([]);
  expect(lane.inflightOf("runtime_graph")).toEqual(["read /hung"]);
  expect(await queued).toBe("b via pool");
  expect(await lane.run(read("/c"), "x", async () => "c via pool")).toBe("c via pool");
  expect(s.pending).toHaveLength(1); // nothing else ran natively
  // the kernel answers at last: the caller gets it, the call is no longer stuck, the lane stays closed
  s.pending[0]!.resolve("late");
  expect(await stuck).toBe("late");
  expect(lane.stuckCalls()).toEqual([]);
  expect(lane.inflightOf("runtime_graph")).toEqual([]);
  expect(lane.open).toBe(false);
});

test("HostIo: a nativeFirst view uses the lane while the pool has no thread; other views and a started pool use the pool", async () => {
  const d = tmp();
  fs.writeFileSync(`${d}/f`, "hello");
  const pool = new ReadPool();
  pools.push(pool);
  const s = scripted();
  const lane = new NativeLane({ runner: s.runner });
  const io = new HostIo(d, 4, undefined, { pool, lane });
  const native = io.forOwner("runtime_graph", { nativeFirst: true });
  // a view made from a nativeFirst view is one too, unless it says otherwise
  expect([
    native.forOwner("a").nativeFirst,
    native.forOwner("b", { nativeFirst: false }).nativeFirst,
    io.forOwner("c").nativeFirst,
  ]).toEqual([true, false, false]);
  const p = native.read(`${d}/f`);
  expect(s.pending.map((c) => c.op)).toEqual([{ op: "read", path: `${d}/f`, maxBytes: 32 * 1024 * 1024, regularOnly: true }]);
  s.pending[0]!.resolve("from lane");
  expect(await p).toBe("from lane");
  expect(pool.started).toBe(false);
  // a view without nativeFirst starts the pool; from then on the nativeFirst view uses it too
  expect(await io.forOwner("memory").read(`${d}/f`)).toBe("hello");
  expect(pool.started).toBe(true);
  expect(await native.read(`${d}/f`)).toBe("hello");
  expect(s.pending).toHaveLength(1);
});

test("HostIo: the owner's call stuck in the lane counts against its cap in the pool, and both are listed as stuck", async () => {
  const d = tmp();
  fs.writeFileSync(`${d}/f`, "hello");
  const pool = new ReadPool({ maxStuckPerOwner: 1 });
  pools.push(pool);
  const s = scripted();
  const lane = new NativeLane({ runner: s.runner, deadlineMs: 30 });
  const io = new HostIo(d, 4, undefined, { pool, lane }).forOwner("runtime_graph", { nativeFirst: true });
  const hung = io.read(`${d}/hung`);
  await until("the call stuck", () => !lane.open);
  expect(io.stuck()).toEqual([`read ${d}/hung (runtime_graph)`]);
  const refused = await io.read(`${d}/f`).catch((e) => e);
  expect(errCode(refused)).toBe("ESTUCK");
  expect(String(refused)).toContain(`not read, 1 earlier reads are stuck (read ${d}/hung)`);
  // another owner is not held back
  expect(await new HostIo(d, 4, undefined, { pool, lane }).forOwner("other", { nativeFirst: true }).read(`${d}/f`)).toBe("hello");
  s.pending[0]!.resolve("late");
  expect(await hung).toBe("late");
  expect(await io.read(`${d}/f`)).toBe("hello"); // no longer stuck: the pool serves it
});

test("runNative gives what the reader threads give: text, refusals, errors, listings, stats", async () => {
  const d = tmp();
  fs.writeFileSync(`${d}/small`, "abc\n");
  fs.writeFileSync(`${d}/big`, "x".repeat(200_000));
  fs.mkdirSync(`${d}/sub`);
  fs.symlinkSync("small", `${d}/link`);
  execFileSync("mkfifo", [`${d}/fifo`]);
  expect(await readBoundedAsync(`${d}/small`, 1024, true)).toBe(readBounded(`${d}/small`, 1024, true));
  expect(await readBoundedAsync(`${d}/big`, 300_000, true)).toBe(readBounded(`${d}/big`, 300_000, true));
  expect(await readBoundedAsync("/proc/self/cmdline", 1 << 20, true)).toBe(readBounded("/proc/self/cmdline", 1 << 20, true));
  for (const [p, max] of [
    [`${d}/fifo`, 1024],
    [`${d}/big`, 100_000],
    [`${d}/missing`, 1024],
    [`${d}/sub`, 1024],
  ] as const) {
    const sync = (() => {
      try {
        readBounded(p, max, true);
      } catch (e) {
        return e as Error;
      }
    })();
    const async = await readBoundedAsync(p, max, true).catch((e: Error) => e);
    expect({ code: errCode(async), p }).toEqual({ code: errCode(sync), p });
    if (errCode(sync) === "ENOTREG" || errCode(sync) === "EFBIG") expect((async as Error).message).toBe(sync!.message);
  }
  const many = (await runNative({ op: "readMany", paths: [`${d}/small`, `${d}/missing`], maxBytes: 1024, regularOnly: true })) as unknown[];
  expect(many[0]).toEqual({ text: "abc\n" });
  expect(many[1]).toMatchObject({ code: "ENOENT" });
  const list = (await runNative({ op: "list", path: d })) as { name: string; kind: string }[];
  expect(list.sort((a, b) => a.name.localeCompare(b.name))).toEqual([
    { name: "big", kind: "file" },
    { name: "fifo", kind: "other" },
    { name: "link", kind: "link" },
    { name: "small", kind: "file" },
    { name: "sub", kind: "dir" },
  ]);
  expect(await runNative({ op: "stat", path: `${d}/small` })).toEqual({ isDirectory: false, isFile: true, size: 4 });
  expect(await runNative({ op: "readlink", path: `${d}/link` })).toBe("small");
  expect(await runNative({ op: "realpath", path: `${d}/link` })).toBe(fs.realpathSync(`${d}/small`));
  const sf = (await runNative({ op: "statfs", path: d })) as { type: bigint; bsize: bigint };
  expect(sf.type).toBe(fs.statfsSync(d, { bigint: true }).type);
});

test("a call that really blocks holds one of Bun's I/O threads, never more: the rest go to the reader threads", async () => {
  const d = tmp();
  for (const f of ["hung1", "hung2"]) {
    execFileSync("mkfifo", [`${d}/${f}`]);
    fifos.push(`${d}/${f}`);
  }
  fs.writeFileSync(`${d}/f`, "ok");
  const pool = new ReadPool({ stuckAfterMs: 100 });
  pools.push(pool);
  const lane = new NativeLane({ deadlineMs: 100 });
  // regularOnly false: the FIFOs are opened blocking, like a read on a hung mount
  const io = new HostIo(d, 4, undefined, { pool, lane, regularOnly: false }).forOwner("runtime_graph", { nativeFirst: true });
  const first = io.read(`${d}/hung1`);
  const second = io.read(`${d}/hung2`);
  await until("the first call stuck in the lane", () => !lane.open);
  expect(lane.stuckCalls()).toEqual([`read ${d}/hung1 (runtime_graph)`]);
  await until("the second call stuck in the pool", () => pool.stuckCalls().length === 1);
  expect(pool.stuckCalls()).toEqual([`read ${d}/hung2 (runtime_graph)`]);
  expect(io.stuck()).toEqual([`read ${d}/hung1 (runtime_graph)`, `read ${d}/hung2 (runtime_graph)`]);
  // Bun's I/O threads (two on a 2-CPU host) still serve the process's other async file calls
  const t0 = performance.now();
  expect(await fsp.readFile(`${d}/f`, "utf8")).toBe("ok");
  expect(await Bun.file(`${d}/f`).text()).toBe("ok");
  expect(performance.now() - t0).toBeLessThan(1000);
  // a writer that opens and closes: both reads see EOF
  for (const f of fifos.splice(0)) fs.closeSync(fs.openSync(f, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK));
  expect(await first).toBe("");
  expect(await second).toBe("");
  expect(io.stuck()).toEqual([]);
});

test("procfs files (a verified procfs mount) are read in one call, capped; HostIo marks them", async () => {
  expect(await readProcfsAsync("/proc/self/cmdline", 1 << 20)).toBe(readBounded("/proc/self/cmdline", 1 << 20, true));
  const big = await readProcfsAsync("/proc/self/cmdline", 3).catch((e: Error) => e);
  expect(errCode(big)).toBe("EFBIG");
  expect((big as Error).message).toBe("/proc/self/cmdline is larger than the 3-byte read cap: not read");
  const s = scripted();
  const pool = new ReadPool();
  pools.push(pool);
  const io = new HostIo("/sys", 4, "/proc", { pool, lane: new NativeLane({ runner: s.runner }) }).forOwner("runtime_graph", {
    nativeFirst: true,
  });
  const p = io.read(`/proc/${process.pid}/cmdline`); // takes the mm lock: not read in place
  expect(s.pending.map((c) => c.op)).toEqual([
    { op: "read", path: `/proc/${process.pid}/cmdline`, maxBytes: 32 * 1024 * 1024, regularOnly: true, procfs: true },
  ]);
  s.pending[0]!.resolve("x");
  expect(await p).toBe("x");
});
