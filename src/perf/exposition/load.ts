// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// node_load*, node_procs_*, node_boot_time and the /proc/stat counters from the load and system collectors
// (node_exporter's loadavg and stat collectors).

import { getExtra } from "../collectors/common.ts";
import { type FamilyGroup, n, one } from "./family.ts";

export const loadFamilies: FamilyGroup = {
  name: "load",
  types: ["load", "system"],
  define(d, fam) {
    const load = () => d.get("load");
    fam("node_load1", "gauge", "1m load average.", () => one(load()?.load_1min));
    fam("node_load5", "gauge", "5m load average.", () => one(load()?.load_5min));
    fam("node_load15", "gauge", "15m load average.", () => one(load()?.load_15min));
    const sys = () => d.get("system");
    const sysx = () => getExtra(d.get("system"));
    fam("node_context_switches_total", "counter", "Total number of context switches.", () => one(sys() && n(sys()!.context_switches)));
    fam("node_intr_total", "counter", "Total number of interrupts serviced.", () => one(sys() && n(sys()!.interrupts)));
    fam("node_boot_time_seconds", "gauge", "Node boot time, in unixtime.", () =>
      one(sysx()?.btime !== undefined ? n(sysx()!.btime) : undefined),
    );
    fam("node_forks_total", "counter", "Total number of forks.", () => one(sysx() && n(sysx()!.processes)));
    fam("node_procs_running", "gauge", "Number of processes in runnable state.", () =>
      one(sysx() ? sysx()!.procsRunning : load()?.running_procs),
    );
    fam("node_procs_blocked", "gauge", "Number of processes blocked waiting for I/O to complete.", () =>
      one(sysx() ? sysx()!.procsBlocked : load()?.blocked_procs),
    );
    fam("antimetal_load_total_procs", "gauge", "Scheduling entities (processes and threads) that exist (loadavg field 4).", () =>
      one(load()?.total_procs),
    );
    fam("antimetal_uptime_seconds", "gauge", "Seconds since boot (/proc/uptime).", () => one(load() && n(load()!.uptime) / 1e9));
  },
};
