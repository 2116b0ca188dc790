// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Shared by the OOM kill tests: a memory-limited container cgroup made on the real host (docker/<id>, as
// dockerd's cgroupfs driver names it, in every controller hierarchy a process can join), processes started
// inside it, and its removal.

import { existsSync, mkdirSync, rmdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const CG = "/sys/fs/cgroup";

export interface TestContainerCgroup {
  /** The cgroup.procs file of each hierarchy the container is in. */
  procs: string[];
  /** Its cgroup's directory inode (= the kernel's cgroup id) in the unified hierarchy and the memory controller's. */
  ids: { unified?: bigint; memory?: bigint };
  /** A shell that joins the container's cgroups, sets its oom_score_adj if given, then execs `cmd`. */
  spawn(cmd: string, oomScoreAdj?: number): ReturnType<typeof Bun.spawn>;
  /** Removes the directories made (a parent another test or dockerd still uses stays). */
  remove(): void;
}

export function containerCgroup(id: string, limitBytes: number): TestContainerCgroup {
  const made: string[] = [];
  const v2 = existsSync(join(CG, "cgroup.controllers"));
  const roots = v2 ? [CG] : ["cpu", "cpuacct", "memory", "pids", "blkio", "devices", "unified"].map((c) => join(CG, c)).filter(existsSync);
  if (v2) writeFileSync(join(CG, "cgroup.subtree_control"), "+memory");
  const procs: string[] = [];
  const ids: TestContainerCgroup["ids"] = {};
  for (const r of roots) {
    const parent = join(r, "docker");
    if (!existsSync(parent)) {
      mkdirSync(parent);
      made.push(parent);
      if (v2) writeFileSync(join(parent, "cgroup.subtree_control"), "+memory");
    }
    const dir = join(parent, id);
    mkdirSync(dir);
    made.push(dir);
    if (r.endsWith("/memory")) writeFileSync(join(dir, "memory.limit_in_bytes"), String(limitBytes));
    if (v2) {
      writeFileSync(join(dir, "memory.max"), String(limitBytes));
      if (existsSync(join(dir, "memory.swap.max"))) writeFileSync(join(dir, "memory.swap.max"), "0");
    }
    if (v2 || r.endsWith("/unified")) ids.unified = statSync(dir, { bigint: true }).ino;
    if (v2 || r.endsWith("/memory")) ids.memory = statSync(dir, { bigint: true }).ino;
    procs.push(join(dir, "cgroup.procs"));
  }
  return {
    procs,
    ids,
    spawn: (cmd, adj) =>
      Bun.spawn(
        [
          "sh",
          "-c",
          `for f in ${procs.join(" ")}; do echo $$ > $f || exit 9; done; ${adj === undefined ? "" : `echo ${adj} > /proc/self/oom_score_adj || exit 9; `}exec ${cmd}`,
        ],
        { stdout: "ignore", stderr: "inherit" },
      ),
    remove() {
      for (const d of made.reverse()) {
        try {
          rmdirSync(d);
        } catch (e) {
          // EBUSY/ENOTEMPTY: a parent another test (or dockerd) also uses
          if (!["EBUSY", "ENOTEMPTY", "ENOENT"].includes((e as NodeJS.ErrnoException).code ?? "")) throw e;
        }
      }
    },
  };
}
