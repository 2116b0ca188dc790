// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * bench/kube --host-pod: a container of one of the bench's Pods on this host, as the kubelet lays
 * out its cgroup (kubepods/besteffort/pod<uid>/<container id>, cgroupfs names) with a `sleep` in it,
 * so the whole agent's runtime graph links a container to a Pod among 10k, as on a real node. No
 * runtime state goes with it: the agent knows the Pod by the UID in the cgroup path alone.
 */

import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, rmdirSync } from "node:fs";
import { join } from "node:path";

const CG = "/sys/fs/cgroup";

export interface HostPod {
  uid: string;
  containerId: string;
  /** The container's cgroup path as /proc/<pid>/cgroup shows it. */
  cgroupPath: string;
  remove(): Promise<void>;
}

export function startHostPod(uid: string): HostPod {
  const containerId = randomBytes(32).toString("hex");
  const rel = ["kubepods", "besteffort", `pod${uid}`, containerId];
  const v2 = existsSync(join(CG, "cgroup.controllers"));
  const roots = v2 ? [CG] : ["cpu", "cpuacct", "memory", "pids", "unified"].map((c) => join(CG, c)).filter(existsSync);
  const made: string[] = [];
  const procs: string[] = [];
  for (const root of roots) {
    let dir = root;
    for (const part of rel) {
      dir = join(dir, part);
      if (existsSync(dir)) continue;
      mkdirSync(dir);
      made.push(dir);
    }
    procs.push(join(dir, "cgroup.procs"));
  }
  const sleep = Bun.spawn(["sh", "-c", `for f in ${procs.join(" ")}; do echo $$ > "$f"; done; exec sleep 86400`], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  return {
    uid,
    containerId,
    cgroupPath: `/${rel.join("/")}`,
    async remove() {
      sleep.kill("SIGKILL");
      await sleep.exited;
      // a cgroup is removable once the kernel has released its last task, a moment after the exit
      for (const dir of made.reverse())
        for (let attempt = 0; ; attempt++) {
          try {
            rmdirSync(dir);
            break;
          } catch (e) {
            if (attempt >= 50) throw e;
            await Bun.sleep(20);
          }
        }
    },
  };
}
