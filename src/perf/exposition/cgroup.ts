// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// antimetal_container_* from the cgroup_cpu and cgroup_memory collectors, labelled by container.

import { type FamilyGroup, n } from "./family.ts";

export const cgroupFamilies: FamilyGroup = {
  name: "cgroup",
  types: ["cgroup_cpu", "cgroup_memory"],
  define(d, fam) {
    const ccpu = () => d.get("cgroup_cpu") ?? [];
    const cmem = () => d.get("cgroup_memory") ?? [];
    const cl = (c: { container_id: string; runtime: string }) => ({ container_id: c.container_id, runtime: c.runtime });
    fam("antimetal_container_cpu_usage_seconds_total", "counter", "Container CPU time.", () =>
      ccpu().map((c) => ({ labels: cl(c), value: n(c.usage_nanos) / 1e9 })),
    );
    fam("antimetal_container_cpu_cfs_periods_total", "counter", "Elapsed CFS enforcement periods.", () =>
      ccpu().map((c) => ({ labels: cl(c), value: n(c.nr_periods) })),
    );
    fam("antimetal_container_cpu_cfs_throttled_periods_total", "counter", "Throttled CFS periods.", () =>
      ccpu().map((c) => ({ labels: cl(c), value: n(c.nr_throttled) })),
    );
    fam("antimetal_container_cpu_cfs_throttled_seconds_total", "counter", "Time throttled.", () =>
      ccpu().map((c) => ({ labels: cl(c), value: n(c.throttled_time) / 1e9 })),
    );
    fam("antimetal_container_memory_usage_bytes", "gauge", "Container memory usage.", () =>
      cmem().map((c) => ({ labels: cl(c), value: n(c.usage_bytes) })),
    );
    fam("antimetal_container_memory_limit_bytes", "gauge", "Container memory limit (absent when unlimited).", () =>
      cmem()
        .filter((c) => c.limit_bytes < 2n ** 62n)
        .map((c) => ({ labels: cl(c), value: n(c.limit_bytes) })),
    );
    fam("antimetal_container_memory_rss_bytes", "gauge", "Container anonymous (RSS) memory.", () =>
      cmem().map((c) => ({ labels: cl(c), value: n(c.rss) })),
    );
    fam("antimetal_container_memory_cache_bytes", "gauge", "Container page cache.", () =>
      cmem().map((c) => ({ labels: cl(c), value: n(c.cache) })),
    );
    fam("antimetal_container_oom_kills_total", "counter", "OOM kills in the container.", () =>
      cmem().map((c) => ({ labels: cl(c), value: n(c.oom_kill_count) })),
    );
  },
};
