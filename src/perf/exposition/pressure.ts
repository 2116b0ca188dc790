// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// node_pressure_* from the pressure collector (node_exporter's pressure collector): cumulative stall
// time per resource, in seconds; a resource the kernel does not have is not served.

import type { PSIStats } from "../parsers/pressure.ts";
import { type FamilyGroup, n, one } from "./family.ts";

const seconds = (s: PSIStats | null | undefined, line: "some" | "full"): number | undefined => {
  const l = s?.[line];
  return l === undefined ? undefined : n(l.total) / 1e6;
};

export const pressureFamilies: FamilyGroup = {
  name: "pressure",
  types: ["pressure"],
  define(d, fam) {
    const p = () => d.get("pressure");
    fam("node_pressure_cpu_waiting_seconds_total", "counter", "Total time in seconds that processes have waited for CPU time", () =>
      one(seconds(p()?.cpu, "some")),
    );
    fam("node_pressure_io_waiting_seconds_total", "counter", "Total time in seconds that processes have waited due to IO congestion", () =>
      one(seconds(p()?.io, "some")),
    );
    fam(
      "node_pressure_io_stalled_seconds_total",
      "counter",
      "Total time in seconds no process could make progress due to IO congestion",
      () => one(seconds(p()?.io, "full")),
    );
    fam("node_pressure_memory_waiting_seconds_total", "counter", "Total time in seconds that processes have waited for memory", () =>
      one(seconds(p()?.memory, "some")),
    );
    fam(
      "node_pressure_memory_stalled_seconds_total",
      "counter",
      "Total time in seconds no process could make progress due to memory congestion",
      () => one(seconds(p()?.memory, "full")),
    );
    // Not in node_exporter 1.5 (added in 1.8 with this name and HELP); served only where /proc/pressure/irq exists.
    fam(
      "node_pressure_irq_stalled_seconds_total",
      "counter",
      "Total time in seconds no process could make progress due to IRQ congestion",
      () => one(seconds(p()?.irq, "full")),
    );
  },
};
