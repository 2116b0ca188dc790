// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Pure parsers of the runtime graph: a container's runtime and pod UID from its cgroup path, image
// references, human names from labels, cgroup values (cpu.weight, cpu lists), /proc/<pid>/cgroup and
// cmdline, and process states.

import { podUidFromPath } from "../perf/parsers/cgroup.ts";
import { type StatHead, statCommandBounds } from "../perf/parsers/pid.ts";
import { ContainerRuntime } from "../proto/gen/antimetal/runtime/v1/container_pb.ts";
import { ProcessState } from "../proto/gen/antimetal/runtime/v1/process_pb.ts";

/**
 * The runtime from a container's cgroup path (lowercased), first match wins: cri-containerd,
 * cri-o/crio, docker, containerd, podman or libpod (the original missed libpod-<id>.scope).
 */
export function runtimeFromPath(path: string): ContainerRuntime {
  const p = path.toLowerCase();
  if (p.includes("cri-containerd")) return ContainerRuntime.CRI_CONTAINERD;
  if (p.includes("cri-o") || p.includes("crio")) return ContainerRuntime.CRI_O;
  if (p.includes("docker")) return ContainerRuntime.DOCKER;
  if (p.includes("containerd")) return ContainerRuntime.CONTAINERD;
  if (p.includes("podman") || p.includes("libpod")) return ContainerRuntime.PODMAN;
  return ContainerRuntime.UNKNOWN;
}

export { podUidFromPath };

const TAG = /^[A-Za-z0-9._-]+$/;

export function isValidTag(t: string): boolean {
  return TAG.test(t);
}

/** Image name (its last '/' segment) and tag (or digest) from a reference; "latest" when none; undefined for "". */
export function parseImageReference(ref: string): { name: string; tag: string } | undefined {
  const r = ref.trim();
  if (r === "") return undefined;
  const lastSeg = (s: string) => s.slice(s.lastIndexOf("/") + 1);
  const at = r.indexOf("@");
  if (at >= 0) {
    const repo = r.slice(0, at);
    const slash = repo.lastIndexOf("/");
    const colon = repo.lastIndexOf(":");
    const name = colon > slash ? repo.slice(0, colon) : repo;
    return { name: lastSeg(name), tag: r.slice(at + 1) };
  }
  const colon = r.lastIndexOf(":");
  if (colon > r.lastIndexOf("/") && isValidTag(r.slice(colon + 1))) return { name: lastSeg(r.slice(0, colon)), tag: r.slice(colon + 1) };
  return { name: lastSeg(r), tag: "latest" };
}

const isHashPart = (s: string) => /^[a-z0-9]{5,10}$/.test(s) && /[a-z]/.test(s) && /[0-9]/.test(s);

/** A pod name without its ReplicaSet/pod hash suffixes (web-7d4f8bd9c-abc12 -> web); StatefulSet ordinals stay. */
export function stripPodHash(name: string): string {
  const parts = name.split("-");
  if (parts.length < 2) return name;
  const n = parts.length;
  if (n >= 3 && isHashPart(parts[n - 1]!) && isHashPart(parts[n - 2]!)) return parts.slice(0, n - 2).join("-");
  if (isHashPart(parts[n - 1]!)) return parts.slice(0, n - 1).join("-");
  return name;
}

/**
 * The container's and its workload's human names from labels/annotations: Kubernetes (kubelet's
 * docker labels, CRI's annotations), compose, else the image name.
 */
export function humanNames(labels: Record<string, string>, imageName: string): { containerName: string; workloadName: string } {
  const containerName =
    labels["io.kubernetes.container.name"] ||
    labels["io.kubernetes.cri.container-name"] ||
    labels["com.docker.compose.service"] ||
    imageName;
  const pod = labels["io.kubernetes.pod.name"] || labels["io.kubernetes.cri.sandbox-name"];
  return { containerName, workloadName: pod ? stripPodHash(pod) : "" };
}

/**
 * cgroup v2 cpu.weight (1..10000) as cgroup v1 cpu.shares (2..262144): the inverse of the conversion
 * runc and the kubelet apply (weight = 1 + (shares - 2) * 9999 / 262142), so 1024 shares round-trip
 * to within one weight step. (The original used 1024 / 9999 as the factor: weight 100 gave 12.)
 */
export function cpuWeightToShares(weight: number): number {
  return Math.floor(2 + ((weight - 1) * 262142) / 9999);
}

/** "0-3,8,10-11" -> [0,1,2,3,8,10,11]; throws on a malformed list or a reversed range. */
export function parseCpuList(text: string): number[] {
  const t = text.trim();
  if (t === "") return [];
  const out: number[] = [];
  for (const item of t.split(",")) {
    const parts = item.split("-").map((s) => s.trim());
    const nums = parts.map((s) => (/^\d+$/.test(s) ? Number(s) : Number.NaN));
    if (parts.length > 2 || nums.some(Number.isNaN)) throw new Error(`invalid cpu list item "${item}" in "${t}"`);
    const [a, b = a] = nums as [number, number?];
    if (b! < a) throw new Error(`reversed range "${item}" in "${t}"`);
    for (let i = a; i <= b!; i++) out.push(i);
  }
  return out;
}

/** /proc/<pid>/stat state letter -> ProcessState. */
export function processState(letter: string): ProcessState {
  switch (letter) {
    case "R":
      return ProcessState.RUNNING;
    case "S":
      return ProcessState.SLEEPING;
    case "D":
      return ProcessState.DISK_SLEEP;
    case "Z":
      return ProcessState.ZOMBIE;
    case "T":
      return ProcessState.STOPPED;
    case "t":
      return ProcessState.TRACING_STOP;
    case "W":
      return ProcessState.PAGING;
    case "X":
    case "x":
      return ProcessState.DEAD;
    case "K":
      return ProcessState.WAKEKILL;
    case "P":
      return ProcessState.PARKED;
    case "I":
      return ProcessState.SLEEPING; // idle kernel thread: an uninterruptible sleep that does not count as load
    default:
      return ProcessState.UNKNOWN;
  }
}

/** The cgroup paths of /proc/<pid>/cgroup ("hierarchy:controllers:path" lines), without the leading '/'. */
export function parseProcCgroup(text: string): { controllers: string; path: string }[] {
  const out: { controllers: string; path: string }[] = [];
  for (const line of text.split("\n")) {
    const a = line.indexOf(":");
    const b = a < 0 ? -1 : line.indexOf(":", a + 1);
    if (b < 0) continue;
    out.push({ controllers: line.slice(a + 1, b), path: line.slice(b + 1).replace(/^\/+/, "") });
  }
  return out;
}

/** /proc/<pid>/cmdline (NUL-separated arguments) as one space-separated string, at most `max` characters. */
export function parseCmdline(raw: string, max = 4096): string {
  let s = raw.endsWith("\0") ? raw.slice(0, -1) : raw;
  s = s.replaceAll("\0", " ");
  return s.length > max ? s.slice(0, max) : s;
}

/** The fields of /proc/<pid>/stat the runtime graph uses (no bigint parsing: start ticks fit a double for any real uptime). */
export interface StatLite extends StatHead {
  /** Ticks after boot. */
  startTicks: number;
}

/**
 * /proc/<pid>/stat: the command is between the first '(' and the LAST ')'; then state (field 3), ppid,
 * pgrp, session (4-6) and starttime (22). undefined when the line is cut short.
 */
export function parseStatLite(text: string): StatLite | undefined {
  const bounds = statCommandBounds(text);
  if (!bounds) return undefined;
  const { open, close } = bounds;
  const pid = Number.parseInt(text, 10);
  // fields after ") ": 0 state, 1 ppid, 2 pgrp, 3 session, ... 19 starttime; read in place (no field strings: a scan parses thousands)
  let state = "";
  let ppid = 0;
  let pgid = 0;
  let sid = 0;
  let startTicks = Number.NaN;
  let i = close + 2;
  for (let f = 0; f < 20; f++) {
    if (i >= text.length) return undefined;
    let j = text.indexOf(" ", i);
    if (j < 0) j = text.length;
    if (f === 0) state = text.slice(i, j);
    else if (f === 1) ppid = intAt(text, i, j);
    else if (f === 2) pgid = intAt(text, i, j);
    else if (f === 3) sid = intAt(text, i, j);
    else if (f === 19) startTicks = intAt(text, i, j);
    i = j + 1;
  }
  if (!Number.isInteger(pid)) return undefined;
  return { pid, command: text.slice(open + 1, close), state, ppid, pgid, sid, startTicks };
}

/** The decimal integer in text[from, to) (an optional '-', digits; a trailing newline is allowed); NaN when it is not one. */
function intAt(text: string, from: number, to: number): number {
  let k = from;
  const neg = text.charCodeAt(k) === 45;
  if (neg) k++;
  let n = 0;
  let digits = 0;
  for (; k < to; k++) {
    const c = text.charCodeAt(k);
    if (c < 48 || c > 57) break;
    n = n * 10 + (c - 48);
    digits++;
  }
  if (!digits || (k < to && text.charCodeAt(k) !== 10)) return Number.NaN;
  return neg ? -n : n;
}
