// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// pressure collector: pressure stall information from /proc/pressure/{cpu,io,memory,irq} (node_pressure_*),
// null for a resource the kernel does not have (before 4.20, CONFIG_PSI off, psi=0, irq without
// CONFIG_IRQ_TIME_ACCOUNTING).

import type { HostPaths, PointCollector } from "../collector.ts";
import { type PSIStats, parsePressure } from "../parsers/pressure.ts";
import { BaseCollector, type CollectorOptions, spec } from "./common.ts";

export const PSI_RESOURCES = ["cpu", "io", "memory", "irq"] as const;

/** JSON of the pressure metric type: one entry per resource, null when its file is absent. */
export type PressureStats = Record<(typeof PSI_RESOURCES)[number], PSIStats | null>;

export class PressureCollector extends BaseCollector implements PointCollector {
  readonly spec = spec("pressure", "Pressure Stall Collector", true, true, "2.6.0");
  constructor(paths: HostPaths, opts: CollectorOptions = {}) {
    super(paths, opts, ["proc"]);
  }
  async collect(signal: AbortSignal): Promise<PressureStats> {
    const dir = `${this.paths.proc}/pressure`;
    const texts = await Promise.all(PSI_RESOURCES.map((r) => this.io.readOptional(`${dir}/${r}`, signal)));
    const out = {} as PressureStats;
    PSI_RESOURCES.forEach((r, i) => {
      const t = texts[i];
      out[r] = t === undefined ? null : parsePressure(t, `${dir}/${r}`);
    });
    return out;
  }
}
