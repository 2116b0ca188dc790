// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// node_memory_* (every /proc/meminfo key) and node_vmstat_* from the memory collector, as node_exporter's
// meminfo and vmstat collectors.

import { getExtra } from "../collectors/common.ts";
import { type FamilyGroup, n } from "./family.ts";

/** meminfo keys a current kernel prints (node_exporter exports each one present). */
export const MEMINFO_KEYS = [
  "MemTotal",
  "MemFree",
  "MemAvailable",
  "Buffers",
  "Cached",
  "SwapCached",
  "Active",
  "Inactive",
  "Active(anon)",
  "Inactive(anon)",
  "Active(file)",
  "Inactive(file)",
  "Unevictable",
  "Mlocked",
  "SwapTotal",
  "SwapFree",
  "Zswap",
  "Zswapped",
  "Dirty",
  "Writeback",
  "AnonPages",
  "Mapped",
  "Shmem",
  "KReclaimable",
  "Slab",
  "SReclaimable",
  "SUnreclaim",
  "KernelStack",
  "ShadowCallStack",
  "PageTables",
  "SecPageTables",
  "NFS_Unstable",
  "Bounce",
  "WritebackTmp",
  "CommitLimit",
  "Committed_AS",
  "VmallocTotal",
  "VmallocUsed",
  "VmallocChunk",
  "Percpu",
  "HardwareCorrupted",
  "AnonHugePages",
  "ShmemHugePages",
  "ShmemPmdMapped",
  "FileHugePages",
  "FilePmdMapped",
  "CmaTotal",
  "CmaFree",
  "Unaccepted",
  "Balloon",
  "HugePages_Total",
  "HugePages_Free",
  "HugePages_Rsvd",
  "HugePages_Surp",
  "Hugepagesize",
  "Hugetlb",
  "DirectMap4k",
  "DirectMap2M",
  "DirectMap1G",
];

/** node_exporter's default vmstat field filter (oom_kill|pgpg|pswp|pg.*fault) applied to the keys a kernel prints. */
export const VMSTAT_KEYS = ["oom_kill", "pgpgin", "pgpgout", "pswpin", "pswpout", "pgfault", "pgmajfault"];

export const memoryFamilies: FamilyGroup = {
  name: "memory",
  types: ["memory"],
  define(d, fam) {
    const extra = () => getExtra(d.get("memory"));
    for (const key of MEMINFO_KEYS) {
      const clean = key.replace(/\(/g, "_").replace(/\)/g, "");
      const kb = !key.startsWith("HugePages_");
      const name = kb ? `node_memory_${clean}_bytes` : `node_memory_${clean}`;
      fam(name, "gauge", `Memory information field ${clean}${kb ? "_bytes" : ""}.`, () => {
        const x = extra();
        const v = x?.meminfo.get(key);
        if (v === undefined) return [];
        const isKb = x?.kb.has(key) ?? kb;
        return [{ labels: {}, value: isKb ? n(v) * 1024 : n(v) }];
      });
    }
    for (const key of VMSTAT_KEYS) {
      fam(`node_vmstat_${key}`, "untyped", `/proc/vmstat information field ${key}.`, () => {
        const v = extra()?.vmstat.get(key);
        return v === undefined ? [] : [{ labels: {}, value: n(v) }];
      });
    }
  },
};
