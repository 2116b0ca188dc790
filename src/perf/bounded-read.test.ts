// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// readBounded: the libc fast path and the node:fs path give the same text, and the same refusals and
// errors (code and message), for every kind of file a host read meets.

import { afterAll, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { readBounded, readBoundedNodeFs, readSmallNative } from "./bounded-read.ts";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bounded-read-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function outcome(read: () => string): { text?: string; code?: string; message?: string } {
  try {
    return { text: read() };
  } catch (e) {
    return { code: (e as NodeJS.ErrnoException).code, message: (e as Error).message };
  }
}

const cases: [string, string, { maxBytes?: number; oneRecord?: boolean; encoding?: BufferEncoding }][] = [];
fs.writeFileSync(`${dir}/small`, "cpu 1 2 3\nbtime 1764900000\n");
cases.push(["a small regular file", `${dir}/small`, {}]);
fs.writeFileSync(`${dir}/empty`, "");
cases.push(["an empty file", `${dir}/empty`, {}]);
fs.writeFileSync(`${dir}/big`, "x".repeat(200_000));
cases.push(["a file larger than the scratch buffer", `${dir}/big`, {}]);
cases.push(["a file over the cap", `${dir}/big`, { maxBytes: 1000 }]);
fs.writeFileSync(`${dir}/at-cap`, "y".repeat(1000));
cases.push(["a file exactly at the cap", `${dir}/at-cap`, { maxBytes: 1000 }]);
fs.writeFileSync(`${dir}/ünïcödé`, "naïve ✓\n");
cases.push(["a non-ASCII name and UTF-8 text", `${dir}/ünïcödé`, {}]);
cases.push(["latin1 decoding", `${dir}/ünïcödé`, { encoding: "latin1" }]);
cases.push(["a missing file", `${dir}/absent`, {}]);
cases.push(["a directory", dir, {}]);
execFileSync("mkfifo", [`${dir}/fifo`]);
cases.push(["a FIFO without a writer (must not block)", `${dir}/fifo`, {}]);
cases.push(["a character device", "/dev/null", {}]);
cases.push(["procfs, one record", "/proc/self/stat", { oneRecord: true }]);
cases.push(["procfs, read to EOF", "/proc/self/status", {}]);
cases.push(["sysfs", "/sys/kernel/mm/transparent_hugepage/enabled", {}]);
cases.push(["a name with a NUL byte", `${dir}/small\0x`, {}]);
cases.push(["a name longer than PATH_MAX", `${dir}/${"n/".repeat(2100)}x`, {}]);

for (const [name, file, o] of cases)
  test(`libc and node:fs paths agree: ${name}`, () => {
    const args = [file, o.maxBytes ?? 1 << 20, true, o.encoding ?? "utf8", o.oneRecord ?? false] as const;
    const fast = outcome(() => readBounded(...args));
    const node = outcome(() => readBoundedNodeFs(...args));
    if (file.startsWith("/proc/self/")) {
      // the process's own counters move between the two reads: compare the shape
      expect(fast.code).toBeUndefined();
      expect(fast.text?.split(/\s+/).length).toBe(node.text?.split(/\s+/).length);
      return;
    }
    expect(fast).toEqual(node);
  });

test("the outcomes are the expected ones (not merely equal)", () => {
  expect(readBounded(`${dir}/small`, 1 << 20, true)).toBe("cpu 1 2 3\nbtime 1764900000\n");
  expect(readBounded(`${dir}/big`, 1 << 20, true).length).toBe(200_000);
  expect(readBounded(`${dir}/ünïcödé`, 1 << 20, true)).toBe("naïve ✓\n");
  expect(outcome(() => readBounded(`${dir}/big`, 1000, true)).code).toBe("EFBIG");
  expect(readBounded(`${dir}/at-cap`, 1000, true).length).toBe(1000);
  expect(outcome(() => readBounded(`${dir}/fifo`, 1000, true)).code).toBe("ENOTREG");
  expect(outcome(() => readBounded("/dev/null", 1000, true)).code).toBe("ENOTREG");
  expect(outcome(() => readBounded(dir, 1000, true)).code).toBe("EISDIR");
  const missing = outcome(() => readBounded(`${dir}/absent`, 1000, true));
  expect(missing.code).toBe("ENOENT");
  expect(missing.message).toContain("no such file or directory");
  expect(readBounded("/proc/self/stat", 1 << 20, true, "latin1", true)).toMatch(new RegExp(`^${process.pid} \\(`));
});

test("the libc path is the one taken for small regular files (glibc here), and declines everything else", () => {
  expect(readSmallNative(`${dir}/small`, 1 << 20, "utf8", false)).toBe("cpu 1 2 3\nbtime 1764900000\n");
  expect(readSmallNative("/proc/self/stat", 1 << 20, "latin1", true)).toMatch(new RegExp(`^${process.pid} \\(`));
  for (const declined of [`${dir}/big`, `${dir}/fifo`, "/dev/null", dir, `${dir}/absent`])
    expect(readSmallNative(declined, 1 << 20, "utf8", false)).toBeUndefined();
  expect(readSmallNative(`${dir}/at-cap`, 999, "utf8", false)).toBeUndefined();
});
