// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Which network and mount namespaces the agent's network and filesystem series describe: the host's,
// or only the agent's own (a pod without hostNetwork, a container without the host's root). Decided
// once at start; `check` prints it, /metrics carries it in antimetal_host_view_info, and the node_*
// families of a namespace the agent cannot see as the host's are left out instead of mislabelled.

import { stat } from "node:fs/promises";
import { errorMessage } from "../util/errors.ts";
import type { HostPaths } from "./collector.ts";
import type { HostIo } from "./io.ts";

export type ViewScope = "host" | "pod";

/** Where the filesystem collector reads mounts, and the prefix its statfs calls put before a mount point. */
export interface MountView {
  scope: ViewScope;
  mountinfo: string;
  prefix: string;
  reason: string;
}

export interface HostView {
  network: ViewScope;
  networkReason: string;
  mounts: ViewScope;
  mountsReason: string;
}

/** node_* families that describe a network namespace (left out when it is only the pod's). */
export const NETWORK_NAMESPACE_FAMILIES = /^node_(network_|netstat_|sockstat_|tcp_connection_states$|udp_queues$|arp_|nf_conntrack_)/;
/** node_* families that describe mounts (left out when only the pod's mounts are visible). */
export const MOUNT_NAMESPACE_FAMILIES = /^node_filesystem_/;

/** True when <proc> belongs to the host's (initial) PID namespace: only there is kthreadd visible, as PID 2. */
export async function seesHostPids(io: HostIo, proc: string, signal?: AbortSignal): Promise<boolean> {
  const comm = await io.readOptional(`${proc}/2/comm`, signal);
  return comm?.trim() === "kthreadd";
}

/**
 * Mounts of the host's PID 1 when they can be reached: through <proc>/1/root (root with the host's
 * PID namespace), through the host's / mounted at `paths.root` (HOST_ROOT, node_exporter's
 * --path.rootfs), or directly when the agent shares PID 1's mount namespace; else the agent's own.
 */
export async function detectMountView(io: HostIo, paths: HostPaths, signal?: AbortSignal): Promise<MountView> {
  const p = paths.proc;
  const own = (reason: string): MountView => ({ scope: "pod", mountinfo: `${p}/self/mountinfo`, prefix: "", reason });
  if (!(await seesHostPids(io, p, signal))) return own(`${p} is not the host's PID namespace (no kthreadd at PID 2)`);
  const initMounts = await io.readOptional(`${p}/1/mountinfo`, signal);
  if (initMounts === undefined) return own(`${p}/1/mountinfo cannot be read`);
  const host = (prefix: string, reason: string): MountView => ({ scope: "host", mountinfo: `${p}/1/mountinfo`, prefix, reason });
  try {
    await io.statfs(`${p}/1/root/`, signal);
    return host(`${p}/1/root`, `through ${p}/1/root`);
  } catch (e) {
    if (signal?.aborted) throw e;
  }
  if (paths.root) return host(paths.root === "/" ? "" : paths.root.replace(/\/+$/, ""), `host root at ${paths.root} (HOST_ROOT)`);
  const ownMounts = await io.readOptional(`${p}/self/mountinfo`, signal);
  if (ownMounts !== undefined && mountIds(ownMounts) === mountIds(initMounts)) return host("", "the agent shares PID 1's mount namespace");
  return own(`only the agent's own mount namespace is visible: ${p}/1/root is not accessible and HOST_ROOT is not set`);
}

/** The mount IDs (first field) of a mountinfo text: equal lists mean one mount namespace. */
function mountIds(mountinfo: string): string {
  return mountinfo
    .split("\n")
    .map((line) => line.split(" ", 1)[0])
    .join(",");
}

/** The agent is in the host's network namespace when its <proc>/self/net/dev is the host PID 1's (same procfs inode). */
async function detectNetworkView(io: HostIo, proc: string, signal?: AbortSignal): Promise<{ scope: ViewScope; reason: string }> {
  if (!(await seesHostPids(io, proc, signal)))
    return { scope: "pod", reason: `${proc} is not the host's PID namespace (no kthreadd at PID 2)` };
  try {
    // A stat of a procfs entry answers from kernel memory: it cannot hang, so it does not need the reader threads.
    const [own, init] = await Promise.all([stat(`${proc}/self/net/dev`), stat(`${proc}/1/net/dev`)]);
    if (own.ino === init.ino) return { scope: "host", reason: "the agent is in the host's network namespace" };
    return { scope: "pod", reason: "the agent has its own network namespace (no hostNetwork)" };
  } catch (e) {
    return { scope: "pod", reason: `cannot compare network namespaces: ${errorMessage(e)}` };
  }
}

/** Whose network and mounts the agent sees. Never throws: a read that fails or times out gives "pod" with the reason. */
export async function detectHostView(io: HostIo, paths: HostPaths, signal?: AbortSignal): Promise<HostView> {
  const unknown = (e: unknown) => ({ scope: "pod" as const, reason: `cannot tell: ${errorMessage(e)}` });
  const [network, mounts] = await Promise.all([
    detectNetworkView(io, paths.proc, signal).catch(unknown),
    detectMountView(io, paths, signal).catch(unknown),
  ]);
  return { network: network.scope, networkReason: network.reason, mounts: mounts.scope, mountsReason: mounts.reason };
}

/** True for a node_* family that would describe a namespace the agent sees only as the pod's. */
export function leftOutByView(view: HostView, family: string): boolean {
  return (
    (view.network === "pod" && NETWORK_NAMESPACE_FAMILIES.test(family)) || (view.mounts === "pod" && MOUNT_NAMESPACE_FAMILIES.test(family))
  );
}

/** The antimetal_host_view_info series, as exposition text. */
export function hostViewExposition(view: HostView): string {
  return [
    "# HELP antimetal_host_view_info Whose namespaces the network and filesystem series describe: host, or pod (only the agent's own; those node_* families are left out).",
    "# TYPE antimetal_host_view_info gauge",
    `antimetal_host_view_info{network="${view.network}",mounts="${view.mounts}"} 1`,
    "",
  ].join("\n");
}

/** One line per namespace for `check`. */
export function formatHostView(view: HostView): string {
  return `host view: network=${view.network} (${view.networkReason}); mounts=${view.mounts} (${view.mountsReason})\n`;
}
