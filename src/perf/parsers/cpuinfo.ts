// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Parser for /proc/cpuinfo with the original's rules: per-core ids, descriptive fields, flags, and physical
// core count (falling back to the logical count on VMs).

import { lines, parseF64, parseI32 } from "./num.ts";

export interface CpuCore {
  processor: number;
  core_id: number;
  physical_id: number;
  siblings: number;
  cpu_mhz: number;
}

/** The processor's description in /proc/cpuinfo: what the host graph reads of the collector's cpu_info. */
export interface CpuDescription {
  physical_cores: number;
  logical_cores: number;
  model_name: string;
  vendor_id: string;
  cpu_family: number;
  model: number;
  stepping: number;
  microcode: string;
  cpu_mhz: number;
  cache_size: string;
  cores: CpuCore[];
}

/** What /proc/cpuinfo alone tells (cpufreq and NUMA come from sysfs in the collector). */
export interface CpuinfoParsed extends CpuDescription {
  cache_alignment: number;
  flags: string[];
  bogomips: number;
  malformed: number;
}

/**
 * Parses /proc/cpuinfo as the original does: blank-line separated records of "key: value"; a record
 * counts only with a parsable "processor"; first-seen wins for the descriptive fields, cache_alignment
 * is last-wins; PhysicalCores counts distinct physical:core pairs, or falls back to the logical count
 * when the ids carry no information (VMs).
 */
export function parseCpuinfo(text: string): CpuinfoParsed {
  const out: CpuinfoParsed = {
    physical_cores: 0,
    logical_cores: 0,
    model_name: "",
    vendor_id: "",
    cpu_family: 0,
    model: 0,
    stepping: 0,
    microcode: "",
    cpu_mhz: 0,
    cache_size: "",
    cache_alignment: 0,
    flags: [],
    bogomips: 0,
    cores: [],
    malformed: 0,
  };
  let cur: CpuCore | undefined;
  let hasProcessor = false;
  let flagsSet = false;
  const finish = () => {
    if (cur && hasProcessor) out.cores.push(cur);
    cur = undefined;
    hasProcessor = false;
  };
  for (const raw of lines(text)) {
    if (raw.trim() === "") {
      finish();
      continue;
    }
    const colon = raw.indexOf(":");
    if (colon < 0) {
      out.malformed++;
      continue;
    }
    const key = raw.slice(0, colon).trim();
    const value = raw.slice(colon + 1).trim();
    cur ??= { processor: 0, core_id: 0, physical_id: 0, siblings: 0, cpu_mhz: 0 };
    const int = (): number | undefined => {
      const v = parseI32(value);
      if (v === undefined) out.malformed++;
      return v;
    };
    switch (key) {
      case "processor": {
        const v = int();
        if (v !== undefined) {
          cur.processor = v;
          hasProcessor = true;
        }
        break;
      }
      case "vendor_id":
        if (!out.vendor_id) out.vendor_id = value;
        break;
      case "model name":
        if (!out.model_name) out.model_name = value;
        break;
      case "microcode":
        if (!out.microcode) out.microcode = value;
        break;
      case "cache size":
        if (!out.cache_size) out.cache_size = value;
        break;
      case "flags":
      case "Features":
        if (!flagsSet) {
          out.flags = value.split(/\s+/).filter(Boolean);
          flagsSet = true;
        }
        break;
      case "bogomips":
      case "BogoMIPS": {
        const v = parseF64(value);
        if (v === undefined) out.malformed++;
        else if (out.bogomips === 0) out.bogomips = v;
        break;
      }
      case "cpu family":
        if (out.cpu_family === 0) out.cpu_family = int() ?? 0;
        break;
      case "model":
        if (out.model === 0) out.model = int() ?? 0;
        break;
      case "stepping":
        if (out.stepping === 0) out.stepping = int() ?? 0;
        break;
      case "cache_alignment": {
        const v = int();
        if (v !== undefined) out.cache_alignment = v;
        break;
      }
      case "cpu MHz": {
        const v = parseF64(value);
        if (v === undefined) out.malformed++;
        else {
          cur.cpu_mhz = v;
          if (out.cpu_mhz === 0) out.cpu_mhz = v;
        }
        break;
      }
      case "physical id":
        cur.physical_id = int() ?? cur.physical_id;
        break;
      case "core id":
        cur.core_id = int() ?? cur.core_id;
        break;
      case "siblings":
        cur.siblings = int() ?? cur.siblings;
        break;
    }
  }
  finish();
  out.logical_cores = out.cores.length;
  const coreIds = new Set(out.cores.map((c) => c.core_id));
  const informative = out.cores.some((c) => c.physical_id !== 0 || c.core_id !== 0) || coreIds.size > 1;
  out.physical_cores = informative ? new Set(out.cores.map((c) => `${c.physical_id}:${c.core_id}`)).size : out.logical_cores;
  return out;
}
