// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The read pool with real blocking reads: FIFOs opened blocking stand in for hung files.

import { afterEach, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { type ReadError, ReadPool } from "./read-pool.ts";
import type { ReadOp } from "./read-protocol.ts";

const dirs: string[] = [];
const fifos: string[] = [];

afterEach(() => {
  // a writer that opens and closes releases every reader blocked on the FIFO
  for (const f of fifos.splice(0)) {
    try {
      fs.closeSync(fs.openSync(f, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK));
    } catch (e) {
      if ((e as { code?: string }).code !== "ENXIO") throw e; // no reader left to release
    }
  }
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** Waits until `ok` holds (a Worker start can take hundreds of ms on a loaded machine), failing after 10 s. */
async function until(what: string, ok: () => boolean): Promise<void> {
  for (const end = Date.now() + 10_000; !ok(); await Bun.sleep(10)) if (Date.now() > end) throw new Error(`not within 10 s: ${what}`);
}

function tree(): { dir: string; hung: (name: string) => string; file: (name: string, text: string) => string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "read-pool-"));
  dirs.push(dir);
  return {
    dir,
    hung: (name) => {
      const p = path.join(dir, name);
      execFileSync("mkfifo", [p]);
      fifos.push(p);
      return p;
    },
    file: (name, text) => {
      const p = path.join(dir, name);
      fs.writeFileSync(p, text);
      return p;
    },
  };
}

const blockingRead = (p: string): ReadOp => ({ op: "read", path: p, maxBytes: 1 << 20, regularOnly: false });

test("a stuck call's thread is replaced: other reads keep working on a one-thread pool", async () => {
  const t = tree();
  const pool = new ReadPool({ size: 1, stuckAfterMs: 100 });
  try {
    const hung = pool.run<string>(blockingRead(t.hung("a")), "disk");
    const ok = t.file("ok", "fine");
    const t0 = performance.now();
    expect(await pool.run<string>(blockingRead(ok), "load")).toBe("fine");
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(pool.stuckCalls()).toEqual([`read ${t.dir}/a (disk)`]);
    expect(pool.threads()).toEqual({ live: 1, stuck: 1 });
    // when the kernel lets go, the late result still arrives and the abandoned thread ends
    fs.writeFileSync(path.join(t.dir, "a"), "late");
    expect(await hung).toBe("late");
    expect(pool.threads().stuck).toBe(0);
  } finally {
    pool.close();
  }
});

test("an owner with too many stuck calls gets an error at once naming them; other owners still read", async () => {
  const t = tree();
  const pool = new ReadPool({ size: 1, stuckAfterMs: 50, maxStuckPerOwner: 2 });
  try {
    const a = t.hung("a");
    const b = t.hung("b");
    void pool.run(blockingRead(a), "filesystem").catch(() => undefined);
    void pool.run(blockingRead(b), "filesystem").catch(() => undefined);
    await until("both reads stuck", () => pool.threads().stuck === 2);
    const err = (await pool.run<string>(blockingRead(t.file("c", "x")), "filesystem").catch((e: ReadError) => e)) as ReadError;
    expect(err.code).toBe("ESTUCK");
    expect(err.message).toBe(`${t.dir}/c: not read, 2 earlier reads are stuck (${a}, ${b})`);
    expect(await pool.run<string>(blockingRead(t.file("d", "other")), "memory")).toBe("other");
  } finally {
    pool.close();
  }
});

test("past the overall stuck cap no thread is added; queued calls are dropped when their caller gives up", async () => {
  const t = tree();
  const pool = new ReadPool({ size: 1, stuckAfterMs: 50, maxStuck: 1, maxStuckPerOwner: 10 });
  try {
    void pool.run(blockingRead(t.hung("a")), "x").catch(() => undefined);
    await until("the read stuck", () => pool.threads().stuck === 1);
    await Bun.sleep(200); // time for a replacement thread to start, were one started
    // one stuck thread is the cap: no replacement is started, so later calls wait in the queue
    expect(pool.threads()).toEqual({ live: 0, stuck: 1 });
    const err = (await pool
      .run<string>(blockingRead(t.file("c", "x")), "y", AbortSignal.timeout(100))
      .catch((e: ReadError) => e)) as ReadError;
    expect(err.name).toBe("TimeoutError");
  } finally {
    pool.close();
  }
});

test("errors carry the Node code and message of the failed call", async () => {
  const t = tree();
  const pool = new ReadPool();
  try {
    const err = (await pool
      .run<string>({ op: "read", path: `${t.dir}/missing`, maxBytes: 10, regularOnly: true })
      .catch((e: ReadError) => e)) as ReadError;
    expect(err.code).toBe("ENOENT");
    expect(err.message).toContain("no such file or directory");
    expect(await pool.run({ op: "list", path: t.dir })).toEqual([]);
  } finally {
    pool.close();
  }
});

test("threads start on demand: quick calls share the first; a call waiting growAfterMs behind a busy one gets a second", async () => {
  const t = tree();
  const pool = new ReadPool({ size: 2, stuckAfterMs: 5000, growAfterMs: 150 });
  try {
    expect(pool.threads()).toEqual({ live: 0, stuck: 0 });
    const files = Array.from({ length: 20 }, (_, i) => t.file(`f${i}`, String(i)));
    // 20 calls at once on a cold pool: the first thread's start (longer than growAfterMs on a loaded machine) is not
    // a wait behind a busy thread, so they all share it
    expect(await Promise.all(files.map((f) => pool.run<string>(blockingRead(f))))).toEqual(files.map((_, i) => String(i)));
    expect(pool.threads()).toEqual({ live: 1, stuck: 0 });
    // the one thread is held by a read that does not return: the next call waits growAfterMs, then a second thread serves it
    const hung = t.hung("h");
    void pool.run(blockingRead(hung)).catch(() => undefined);
    const t0 = performance.now();
    expect(await pool.run<string>(blockingRead(files[0]!))).toBe("0");
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
    expect(pool.threads()).toEqual({ live: 2, stuck: 0 });
  } finally {
    pool.close();
  }
});

test("a thread still starting is not a busy one: a burst queued while the first thread starts (slower than growAfterMs) stays on it", async () => {
  const t = tree();
  const slow = new URL("../../test/fixtures/perf/read-pool/slow-start-worker.ts", import.meta.url).href;
  const pool = new ReadPool({ size: 2, stuckAfterMs: 5000, growAfterMs: 100, workerUrl: slow });
  try {
    const files = Array.from({ length: 5 }, (_, i) => t.file(`s${i}`, String(i)));
    const t0 = performance.now();
    expect(await Promise.all(files.map((f) => pool.run<string>(blockingRead(f))))).toEqual(files.map((_, i) => String(i)));
    expect(performance.now() - t0).toBeGreaterThanOrEqual(400); // the thread's start was slow
    expect(pool.threads()).toEqual({ live: 1, stuck: 0 });
  } finally {
    pool.close();
  }
});
