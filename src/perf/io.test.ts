// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of collector file access: the semaphore's concurrency bound, raceAbort, and a hung file costing
// one underlying read however many callers time out on it.

import { expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { errCode, HostIo, raceAbort, Semaphore } from "./io.ts";

test("Semaphore bounds concurrency", async () => {
  const s = new Semaphore(2);
  let active = 0;
  let peak = 0;
  await Promise.all(
    Array.from({ length: 6 }, async () => {
      await s.acquire();
      active++;
      peak = Math.max(peak, active);
      await Bun.sleep(5);
      active--;
      s.release();
    }),
  );
  expect(peak).toBe(2);
});

test("raceAbort rejects with the signal's reason while the promise never settles", async () => {
  await expect(raceAbort(new Promise(() => {}), AbortSignal.timeout(20))).rejects.toThrow("timed out");
});

test("a hung file holds one underlying read however many callers time out on it", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "perf-io-"));
  const fifo = path.join(dir, "hung");
  execFileSync("mkfifo", [fifo]);
  // regularOnly: false opens the FIFO blocking, which stands in for a hung mount or sysfs attribute
  const io = new HostIo(path.join(dir, "sys"), 4, undefined, { regularOnly: false });
  try {
    for (let i = 0; i < 5; i++) await expect(io.read(fifo, AbortSignal.timeout(20))).rejects.toThrow();
    expect(io.pending()).toEqual([`r:${fifo}`]);
    fs.writeFileSync(path.join(dir, "ok"), "fine");
    expect(await io.read(path.join(dir, "ok"), AbortSignal.timeout(1000))).toBe("fine");
    expect(await io.readOptional(path.join(dir, "missing"))).toBeUndefined();
  } finally {
    fs.closeSync(fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK));
    await Bun.sleep(20);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  expect(io.pending()).toEqual([]);
});

test("a FIFO where a file is expected is refused at once, naming it, without blocking any thread", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "perf-io-"));
  const fifo = path.join(dir, "loadavg");
  execFileSync("mkfifo", [fifo]);
  const io = new HostIo(path.join(dir, "sys"));
  try {
    const t0 = performance.now();
    const err = await io.read(fifo, AbortSignal.timeout(5000)).catch((e) => e);
    expect(errCode(err)).toBe("ENOTREG");
    expect(err.message).toBe(`${fifo} is a fifo, not a regular file: not read (it could block)`);
    // optional reads do not hide it: a FIFO in place of a host file is an anomaly, not an absence
    expect(errCode(await io.readOptional(fifo, AbortSignal.timeout(5000)).catch((e) => e))).toBe("ENOTREG");
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(io.pending()).toEqual([]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("a file larger than the per-file cap is an EFBIG error naming it; one at the cap reads whole", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "perf-io-"));
  const io = new HostIo(path.join(dir, "sys"), 4, undefined, { maxFileBytes: 64 * 1024 });
  try {
    fs.writeFileSync(path.join(dir, "cpuinfo"), "x".repeat(64 * 1024 + 1));
    fs.writeFileSync(path.join(dir, "meminfo"), "y".repeat(64 * 1024));
    const err = await io.read(path.join(dir, "cpuinfo"), AbortSignal.timeout(5000)).catch((e) => e);
    expect(errCode(err)).toBe("EFBIG");
    expect(err.message).toBe(`${path.join(dir, "cpuinfo")} is larger than the 65536-byte read cap: not read`);
    expect((await io.read(path.join(dir, "meminfo"), AbortSignal.timeout(5000))).length).toBe(64 * 1024);
    expect(io.readSyncSoft(path.join(dir, "cpuinfo"))).toEqual({ code: "EFBIG" });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("readManyOptional: several files in one round trip; missing ones undefined, a FIFO still refused", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "perf-io-"));
  const io = new HostIo(path.join(dir, "sys"));
  try {
    fs.writeFileSync(path.join(dir, "mtu"), "1500\n");
    fs.writeFileSync(path.join(dir, "operstate"), "up\n");
    const got = await io.readManyOptional([path.join(dir, "mtu"), path.join(dir, "missing"), path.join(dir, "operstate")]);
    expect(got).toEqual(["1500\n", undefined, "up\n"]);
    const fifo = path.join(dir, "carrier");
    execFileSync("mkfifo", [fifo]);
    const err = await io.readManyOptional([path.join(dir, "mtu"), fifo], AbortSignal.timeout(5000)).catch((e) => e);
    expect(errCode(err)).toBe("ENOTREG");
    expect(err.message).toBe(`${fifo} is a fifo, not a regular file: not read (it could block)`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("reads past the reused buffer: files above 64 KiB whole, the cap exact, a one-record read equal to a full one", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "perf-io-"));
  try {
    const big = "x".repeat(200_000) + "\n";
    const small = "1 (a b) S 0 1 1\n";
    fs.writeFileSync(path.join(dir, "big"), big);
    fs.writeFileSync(path.join(dir, "small"), small);
    const io = new HostIo(dir, 4, undefined, { maxFileBytes: big.length });
    expect(io.readSyncSoft(path.join(dir, "big")).text).toBe(big);
    expect(io.readSyncSoft(path.join(dir, "big"), true).text).toBe(big);
    expect(io.readSyncSoft(path.join(dir, "small"), true).text).toBe(small);
    expect(io.readSyncSoft(path.join(dir, "small")).text).toBe(small); // the buffer's earlier contents do not leak
    fs.appendFileSync(path.join(dir, "big"), "y");
    expect(io.readSyncSoft(path.join(dir, "big")).code).toBe("EFBIG");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("readManyInMemorySync: texts in order, missing ones undefined, a FIFO refused; isInMemoryFs tells procfs and a missing path from cgroupfs", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "perf-io-"));
  try {
    fs.writeFileSync(path.join(dir, "cpu.max"), "max 100000\n");
    const io = new HostIo(dir, 4);
    expect(io.readManyInMemorySync([path.join(dir, "cpu.max"), path.join(dir, "absent")])).toEqual(["max 100000\n", undefined]);
    execFileSync("mkfifo", [path.join(dir, "fifo")]);
    expect(() => io.readManyInMemorySync([path.join(dir, "fifo")])).toThrow("not a regular file");
    expect(io.isInMemoryFs("/proc")).toBe(false);
    expect(io.isInMemoryFs(path.join(dir, "absent"))).toBe(false);
    const cgroupRoot = fs.existsSync("/sys/fs/cgroup/cgroup.controllers") ? "/sys/fs/cgroup" : "/sys/fs/cgroup/memory";
    if (fs.existsSync(cgroupRoot)) expect(io.isInMemoryFs(cgroupRoot)).toBe(true);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
