// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/** Unit test of programRecursionMisses over a fake /proc/self fd + fdinfo layout. */

import { expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { programRecursionMisses, recursionLost } from "./prog-misses.ts";

test("sums recursion_misses of our programs once each, ignoring other fds and programs", () => {
  const dir = mkdtempSync(join(tmpdir(), "am-prog-misses-"));
  try {
    mkdirSync(join(dir, "fd"));
    mkdirSync(join(dir, "fdinfo"));
    const fd = (n: number, link: string, info: string) => {
      symlinkSync(link, join(dir, "fd", String(n)));
      writeFileSync(join(dir, "fdinfo", String(n)), info);
    };
    const prog = (id: number, misses: number) => `pos:\t0\nprog_type:\t5\nprog_id:\t${id}\nrun_cnt:\t9\nrecursion_misses:\t${misses}\n`;
    fd(3, "anon_inode:bpf-prog", prog(10, 2));
    fd(4, "anon_inode:bpf-prog", prog(11, 5));
    fd(5, "anon_inode:bpf-prog", prog(10, 2)); // a second fd of program 10
    fd(6, "anon_inode:bpf-prog", prog(99, 1000)); // not ours
    fd(7, "anon_inode:bpf-map", "map_id:\t10\n");
    fd(8, "anon_inode:bpf-prog", "prog_id:\t12\n"); // an older kernel: no counter
    expect(programRecursionMisses([10, 11, 12], dir)).toBe(7n);
    expect(programRecursionMisses([], dir)).toBe(0n);
    expect(programRecursionMisses([10], join(dir, "missing"))).toBe(0n);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("recursion losses: every program's skips, the fallback program's included, less the runs it recovered", () => {
  const dir = mkdtempSync(join(tmpdir(), "am-prog-misses-"));
  try {
    mkdirSync(join(dir, "fd"));
    mkdirSync(join(dir, "fdinfo"));
    const prog = (fd: number, id: number, misses: number) => {
      symlinkSync("anon_inode:bpf-prog", join(dir, "fd", String(fd)));
      writeFileSync(join(dir, "fdinfo", String(fd)), `prog_id:\t${id}\nrecursion_misses:\t${misses}\n`);
    };
    prog(3, 20, 6); // the main state-change program: 6 skipped runs
    prog(4, 21, 2); // the fallback: 2 skipped runs of its own
    prog(5, 22, 1); // an accept-exit program
    expect(recursionLost([20, 21, 22], () => 5n, dir)).toEqual({ lost: 4n, recovered: 5n }); // 6 + 2 + 1 - 5 recovered
    expect(recursionLost([20, 22], () => 5n, dir).lost).toBe(2n); // without the fallback's id its skips are missed
    expect(recursionLost([20, 21, 22], () => 0n, dir).lost).toBe(9n);
    expect(recursionLost([20, 21, 22], () => 50n, dir).lost).toBe(0n);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
