// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// node_cpu_* from the cpu collector (/proc/stat per-CPU lines), as node_exporter's cpu collector.

import type { CPUStats } from "../collectors/cpu.ts";
import { type FamilyGroup, n } from "./family.ts";

const CPU_MODES: [keyof CPUStats, string][] = [
  ["user", "user"],
  ["nice", "nice"],
  ["system", "system"],
  ["idle", "idle"],
  ["io_wait", "iowait"],
  ["irq", "irq"],
  ["soft_irq", "softirq"],
  ["steal", "steal"],
];

export const cpuFamilies: FamilyGroup = {
  name: "cpu",
  types: ["cpu"],
  define(d, fam) {
    const hz = d.userHz;
    const cpus = () => (d.get("cpu") ?? []).filter((c) => c.cpu_index >= 0);
    fam("node_cpu_seconds_total", "counter", "Seconds the CPUs spent in each mode.", () =>
      cpus().flatMap((c) => CPU_MODES.map(([k, mode]) => ({ labels: { cpu: String(c.cpu_index), mode }, value: n(c[k] as bigint) / hz }))),
    );
    fam("node_cpu_guest_seconds_total", "counter", "Seconds the CPUs spent in guests (VMs) for each mode.", () =>
      cpus().flatMap((c) => [
        { labels: { cpu: String(c.cpu_index), mode: "user" }, value: n(c.guest) / hz },
        { labels: { cpu: String(c.cpu_index), mode: "nice" }, value: n(c.guest_nice) / hz },
      ]),
    );
  },
};
