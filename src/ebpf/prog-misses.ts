// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * Runs of our own BPF programs the kernel skipped: a tracepoint program does not run while
 * another BPF program is running on the same CPU (for example, a softirq that reaches
 * sock:inet_sock_set_state while the same program runs in a process's syscall), and the kernel
 * counts each skip as the program's recursion_misses (6.x kernels; older ones have no counter
 * and this reads 0). Read from this process's own fdinfo of its program fds: the agent's own
 * process, not the host's /proc, so no HostIo.
 */

import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** Sum of recursion_misses over the BPF program fds of this process whose prog_id is in `progIds`. */
export function programRecursionMisses(progIds: readonly number[], procSelf = "/proc/self"): bigint {
  if (progIds.length === 0) return 0n;
  let fds: string[];
  try {
    fds = readdirSync(`${procSelf}/fd`);
  } catch {
    return 0n;
  }
  const want = new Set(progIds);
  const done = new Set<number>();
  let sum = 0n;
  for (const fd of fds) {
    let text: string;
    try {
      if (readlinkSync(`${procSelf}/fd/${fd}`) !== "anon_inode:bpf-prog") continue;
      text = readFileSync(`${procSelf}/fdinfo/${fd}`, "utf8");
    } catch {
      continue; // closed since readdir
    }
    const id = Number(/^prog_id:\s*(\d+)/m.exec(text)?.[1]);
    const misses = /^recursion_misses:\s*(\d+)/m.exec(text)?.[1];
    if (!want.has(id) || done.has(id) || misses === undefined) continue;
    done.add(id); // several fds can name one program
    sum += BigInt(misses);
  }
  return sum;
}

/**
 * State changes lost to nesting: the skipped runs of all our programs (a fallback program's own
 * skips included) less the runs a fallback program made in place of a skipped one (counted by the
 * fallback itself; tcpflow.bpf.c). The misses are read first: the kernel counts a skip before the
 * fallback runs for it, so a recovery between the two reads cannot leave a skip counted that is
 * recovered. Never negative.
 */
export function recursionLost(
  progIds: readonly number[],
  readRecovered: () => bigint,
  procSelf = "/proc/self",
): { lost: bigint; recovered: bigint } {
  const misses = programRecursionMisses(progIds, procSelf);
  const recovered = readRecovered();
  return { lost: misses > recovered ? misses - recovered : 0n, recovered };
}
