// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// antimetal_process_* from the process collector (the top-N processes by CPU).

import type { ProcessStats } from "../collectors/process.ts";
import { type FamilyGroup, n } from "./family.ts";

export const processFamilies: FamilyGroup = {
  name: "process",
  types: ["process"],
  define(d, fam) {
    const procs = () => d.get("process") ?? [];
    const pl = (p: ProcessStats) => ({ pid: String(p.pid), command: p.command });
    fam("antimetal_process_cpu_seconds_total", "counter", "CPU time (user + system) of the top-N processes by CPU.", () =>
      procs().map((p) => ({ labels: pl(p), value: n(p.cpu_time) / d.userHz })),
    );
    fam("antimetal_process_cpu_percent", "gauge", "CPU use of the top-N processes over the last interval (100 = one CPU).", () =>
      procs().map((p) => ({ labels: pl(p), value: p.cpu_percent })),
    );
    fam("antimetal_process_resident_memory_bytes", "gauge", "Resident memory of the top-N processes.", () =>
      procs().map((p) => ({ labels: pl(p), value: n(p.memory_rss) })),
    );
    fam("antimetal_process_open_fds", "gauge", "Open file descriptors of the top-N processes.", () =>
      procs().map((p) => ({ labels: pl(p), value: p.num_fds })),
    );
  },
};
