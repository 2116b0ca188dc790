// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Parsers for cgroup files (flat keyed stats, single values with "max", cpu.max) and the original's
// rules for a container's id and runtime from its cgroup path.

import { fields, parseI64, parseU64, U64_MAX } from "./num.ts";
import { parseVmstat } from "./vmstat.ts";

/**
 * Flat keyed cgroup files ("key value" per line): cpu.stat, memory.stat, memory.events,
 * memory.oom_control, cpuacct.stat. The format is /proc/vmstat's: non-u64 values are skipped and counted.
 */
export const parseFlatKeyed = parseVmstat;

/** A single-number cgroup file; "max" -> U64_MAX (memory.max) ; undefined when unparsable. */
export function parseCgroupU64(text: string): bigint | undefined {
  const t = text.trim();
  if (t === "max") return U64_MAX;
  return parseU64(t);
}

/** A signed single-number cgroup v1 file (cpu.cfs_quota_us may be -1). */
export function parseCgroupI64(text: string): bigint | undefined {
  return parseI64(text.trim());
}

/** cgroup v2 cpu.max "quota period"; "max" quota -> -1. */
export function parseCpuMax(text: string): { quota: bigint; period: bigint } | undefined {
  const f = fields(text);
  if (f.length < 1) return undefined;
  const quota = f[0] === "max" ? -1n : parseI64(f[0]);
  if (quota === undefined) return undefined;
  const period = f.length > 1 ? (parseU64(f[1]) ?? 0n) : 100000n;
  return { quota, period };
}

/** Case-insensitive hex, non-empty. */
export function isHexString(s: string): boolean {
  return s.length > 0 && /^[0-9a-fA-F]+$/.test(s);
}

function validId(s: string | undefined): s is string {
  return s !== undefined && s.length >= 12 && isHexString(s);
}

/**
 * Container id from a cgroup directory name or path, by the original's rules: *.scope names
 * (cri-*: after the last '-'; else after the first '-' if that is hex, else after the last '-'); a path
 * segment following docker, containerd, crio or podman; the last segment; the whole name. Each candidate
 * must be hex of at least 12 characters. "" when none is.
 */
export function extractContainerId(name: string): string {
  const segs = name.split("/").filter(Boolean);
  const base = segs[segs.length - 1] ?? name;
  if (base.endsWith(".scope")) {
    const s = base.slice(0, -".scope".length);
    if (s.startsWith("cri-")) {
      const c = s.slice(s.lastIndexOf("-") + 1);
      if (validId(c)) return c;
    } else {
      const first = s.indexOf("-");
      if (first >= 0) {
        const c = s.slice(first + 1);
        if (validId(c)) return c;
      }
      const c = s.slice(s.lastIndexOf("-") + 1);
      if (validId(c)) return c;
    }
  }
  for (let i = 0; i + 1 < segs.length; i++) {
    if (["docker", "containerd", "crio", "podman"].includes(segs[i]!) && validId(segs[i + 1])) return segs[i + 1]!;
  }
  if (validId(base)) return base;
  if (validId(name)) return name;
  return "";
}

/** Container runtime from the cgroup path (lowercased). */
export function detectRuntime(path: string): string {
  const p = path.toLowerCase();
  if (p.includes("cri-containerd")) return "containerd";
  if (p.includes("cri-o") || p.includes("crio")) return "cri-o";
  if (p.includes("docker")) return "docker";
  if (p.includes("containerd")) return "containerd";
  if (p.includes("podman") || p.includes("libpod")) return "podman";
  return "unknown";
}

const POD_UID = /pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})(?:\.slice)?(?:\/|$)/;

/**
 * The Kubernetes pod UID in a cgroup path: kubepods/<qos>/pod<uid>/... (cgroupfs) or
 * kubepods-<qos>-pod<uid with '_'>.slice (systemd, which cannot have '-' in a unit name part).
 */
export function podUidFromPath(path: string): string | undefined {
  const m = POD_UID.exec(path.toLowerCase());
  return m ? m[1]!.replaceAll("_", "-") : undefined;
}
