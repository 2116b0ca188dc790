// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Readers for host facts the collectors do not read: identity (machine-id, DMI UUID, hostname),
// architecture, boot time, kernel, OS, per-device sysfs links (bus, NUMA node, bonds, bridges), addresses.

import * as os from "node:os";
import * as path from "node:path";
import type { HostPaths } from "../perf/collector.ts";
import { HostIo } from "../perf/io.ts";
import { parseFibTrieLocal } from "../perf/parsers/fib-trie.ts";
import { parseIfInet6 } from "../perf/parsers/if-inet6.ts";
import { assignIpv4, parseRoutes } from "../perf/parsers/route.ts";
import { Architecture, BusType } from "../proto/gen/antimetal/hardware/v1/hardware_pb.ts";
import { errorMessage } from "../util/errors.ts";
import type { BlockDeviceFacts, BusInfo, HostFacts, NetDeviceFacts } from "./types.ts";

/**
 * Small readers for host facts the collectors do not read: identity (machine-id, DMI UUID,
 * hostname), system description (architecture, boot time, kernel, OS), and per-device sysfs links
 * (bus, NUMA node, bond slaves, bridge ports) and interface addresses. Every file goes through
 * HostIo (reader threads, hang guard, size cap); facts are best effort: a file that is missing
 * leaves its fact empty, one that cannot be read is also recorded in `errors`.
 */

/** How facts are read: the file access, the deadline, and where unreadable files are recorded. */
export interface FactsReader {
  io: HostIo;
  /** Deadline of each read: a read past it is recorded in `errors` and its fact left empty. */
  signal?: AbortSignal;
  /** Shutdown: reads end and the whole read fails. */
  stop?: AbortSignal;
  /** "path: message" for files that exist but could not be read (refused, too large, stuck). */
  errors: string[];
}

let sharedIo: HostIo | undefined;
/** A reader on the process's read pool, counted as the "hostgraph" owner. */
export function factsReader(opts: { signal?: AbortSignal; stop?: AbortSignal; io?: HostIo } = {}): FactsReader {
  sharedIo ??= new HostIo("/sys").forOwner("hostgraph", { nativeFirst: true });
  return { io: opts.io ?? sharedIo, signal: opts.signal, stop: opts.stop, errors: [] };
}

async function readTrim(r: FactsReader, p: string): Promise<string | undefined> {
  try {
    return (await r.io.readOptional(p, r.signal))?.trim();
  } catch (e) {
    if (r.stop?.aborted) throw e;
    r.errors.push(r.signal?.aborted ? `${p}: not read within the deadline` : errorMessage(e));
    return undefined;
  }
}

async function exists(r: FactsReader, p: string): Promise<boolean> {
  try {
    return await r.io.exists(p, r.signal);
  } catch (e) {
    if (r.stop?.aborted) throw e;
    r.errors.push(r.signal?.aborted ? `${p}: not read within the deadline` : errorMessage(e));
    return false;
  }
}

/** `$HOST_ETC/machine-id`, else `$HOST_VAR/lib/dbus/machine-id`; "" when neither has a value. */
export async function readMachineId(paths: Pick<HostPaths, "etc" | "var">, r = factsReader()): Promise<string> {
  return (
    (await readTrim(r, path.join(paths.etc, "machine-id"))) || (await readTrim(r, path.join(paths.var, "lib", "dbus", "machine-id"))) || ""
  );
}

/** DMI `product_uuid` (root-only on most hosts); "" when unreadable. */
export async function readSystemUuid(paths: Pick<HostPaths, "sys">, r = factsReader()): Promise<string> {
  return (await readTrim(r, path.join(paths.sys, "class", "dmi", "id", "product_uuid"))) || "";
}

/** `$HOST_ETC/hostname`, else the kernel's (`<proc>/sys/kernel/hostname`), else os.hostname(). */
export async function readHostname(paths: Pick<HostPaths, "etc" | "proc">, r = factsReader()): Promise<string> {
  const etc = (await readTrim(r, path.join(paths.etc, "hostname")))?.split("\n")[0]?.trim();
  return etc || (await readTrim(r, path.join(paths.proc, "sys", "kernel", "hostname"))) || os.hostname() || "unknown";
}

/** The SystemNode's name as buildHostGraph gives it: machine-id, else DMI product_uuid, else hostname (other graphs link to it). */
export async function readSystemName(paths: Pick<HostPaths, "etc" | "var" | "sys" | "proc">, r = factsReader()): Promise<string> {
  return (await readMachineId(paths, r)) || (await readSystemUuid(paths, r)) || (await readHostname(paths, r)) || "unknown";
}

const MACHINE_ARCH: Record<string, Architecture> = {
  x86_64: Architecture.X86_64,
  amd64: Architecture.X86_64,
  x64: Architecture.X86_64,
  i386: Architecture.X86,
  i486: Architecture.X86,
  i586: Architecture.X86,
  i686: Architecture.X86,
  ia32: Architecture.X86,
  aarch64: Architecture.ARM64,
  arm64: Architecture.ARM64,
  arm: Architecture.ARM,
  ppc: Architecture.PPC,
  ppc64: Architecture.PPC64,
  ppc64le: Architecture.PPC64LE,
  s390: Architecture.S390,
  s390x: Architecture.S390X,
  mips: Architecture.MIPS,
  mips64: Architecture.MIPS64,
  mips64el: Architecture.MIPS64LE,
  mips64le: Architecture.MIPS64LE,
  riscv64: Architecture.RISCV64,
  sparc: Architecture.SPARC,
  sparc64: Architecture.SPARC64,
};

/** uname machine ("x86_64", "aarch64", "armv7l") or Node's process.arch to the enum. */
export function architectureFromMachine(machine: string): Architecture {
  const m = machine.trim().toLowerCase();
  if (MACHINE_ARCH[m] !== undefined) return MACHINE_ARCH[m]!;
  if (/^armv\d/.test(m)) return Architecture.ARM;
  return Architecture.UNKNOWN;
}

/** `<proc>/sys/kernel/arch` (the running kernel's machine), else the agent binary's architecture. */
export async function readArchitecture(paths: Pick<HostPaths, "proc">, r = factsReader()): Promise<Architecture> {
  const m = await readTrim(r, path.join(paths.proc, "sys", "kernel", "arch"));
  return architectureFromMachine(m || process.arch);
}

/** `btime` from `<proc>/stat`, seconds since the epoch; 0 if absent. */
export function parseBootTime(statText: string): number {
  const m = /^btime\s+(\d+)\s*$/m.exec(statText);
  return m ? Number(m[1]) : 0;
}

export async function readKernelVersion(paths: Pick<HostPaths, "proc">, r = factsReader()): Promise<string> {
  const rel = await readTrim(r, path.join(paths.proc, "sys", "kernel", "osrelease"));
  if (rel) return rel;
  const ver = await readTrim(r, path.join(paths.proc, "version"));
  return ver?.split(/\s+/)[2] ?? "unknown";
}

/** PRETTY_NAME from os-release text (quotes removed); undefined if absent. */
export function parseOsReleasePrettyName(text: string): string | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith("PRETTY_NAME=")) {
      let v = line.slice("PRETTY_NAME=".length).trim();
      if (v.length >= 2 && (v[0] === '"' || v[0] === "'") && v[v.length - 1] === v[0]) v = v.slice(1, -1);
      return v;
    }
  }
  return undefined;
}

/** `$HOST_ETC/os-release` PRETTY_NAME, else "Linux" (as the original). */
export async function readOsInfo(paths: Pick<HostPaths, "etc">, r = factsReader()): Promise<string> {
  const text = await readTrim(r, path.join(paths.etc, "os-release"));
  return (text !== undefined ? parseOsReleasePrettyName(text) : undefined) || "Linux";
}

const PCI_RE = /^[0-9a-f]{4,}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/i;
const SCSI_RE = /^\d+:\d+:\d+:\d+$/;
const USB_PORT_RE = /^\d+-[\d.]+$/;

/**
 * What bus a device sits on, from the resolved target of its sysfs `device` link (pure: takes the
 * path below `<sys>/devices/`). Devices under `virtual/` and platform devices without a
 * recognisable bus give undefined.
 */
export function busFromDevicePath(rel: string): (Omit<BusInfo, "numaNode" | "pcie"> & { pciPath?: string }) | undefined {
  const segs = rel.split("/").filter(Boolean);
  if (segs.length === 0 || segs[0] === "virtual") return undefined;
  let pciIdx = -1;
  segs.forEach((s, i) => {
    if (PCI_RE.test(s)) pciIdx = i;
  });
  const pci = pciIdx >= 0 ? segs[pciIdx]! : undefined;
  const pciPath = pciIdx >= 0 ? segs.slice(0, pciIdx + 1).join("/") : undefined;
  const scsi = [...segs].reverse().find((s) => SCSI_RE.test(s));
  const has = (re: RegExp) => segs.some((s) => re.test(s));
  const withPci = (b: Omit<BusInfo, "numaNode" | "pcie">) => (pciPath ? { ...b, pciPath } : b);
  if (segs.includes("nvme") || has(/^nvme-subsys\d+$/)) return withPci({ type: BusType.NVME, address: pci ?? segs[segs.length - 1]! });
  if (has(/^usb\d+$/)) {
    const port = [...segs].reverse().find((s) => USB_PORT_RE.test(s));
    return withPci({ type: BusType.USB, address: port ?? segs[segs.length - 1]! });
  }
  if (has(/^(end_device|expander|port)-\d+:/)) return withPci({ type: BusType.SAS, address: scsi ?? segs[segs.length - 1]! });
  if (has(/^ata\d+$/)) return withPci({ type: BusType.SATA, address: scsi ?? segs[segs.length - 1]! });
  if (has(/^ide\d+$/)) return withPci({ type: BusType.IDE, address: scsi ?? segs[segs.length - 1]! });
  if (scsi && has(/^host\d+$/)) return withPci({ type: BusType.SCSI, address: scsi });
  const virtio = segs.find((s) => /^virtio\d+$/.test(s));
  if (virtio) return withPci({ type: BusType.VIRTIO, address: pci ?? virtio });
  if (pci) return { type: BusType.PCI, address: pci, pciPath: pciPath! };
  return undefined;
}

/** Resolves `<link>` (a sysfs `device` link) and classifies its bus; reads numa_node and PCIe-ness of the PCI function. */
export async function readBus(sysRoot: string, link: string, r = factsReader()): Promise<BusInfo | undefined> {
  let real = await r.io.realpath(link, r.signal);
  const devicesRoot = await r.io.realpath(path.join(sysRoot, "devices"), r.signal);
  if (real === undefined || devicesRoot === undefined) return undefined;
  if (!real.startsWith(devicesRoot + "/")) return undefined;
  // Native NVMe multipath: the namespace's device is the (virtual) subsystem; its controllers are
  // links inside it. The first controller (by name) stands for the disk's bus.
  if (/^virtual\/nvme-subsystem\/[^/]+$/.test(real.slice(devicesRoot.length + 1))) {
    const ctrls = (await r.io.listOptional(real, r.signal))
      .map((e) => e.name)
      .filter((n) => /^nvme\d+$/.test(n))
      .sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)));
    if (ctrls.length === 0) return undefined;
    real = await r.io.realpath(path.join(real, ctrls[0]!), r.signal);
    if (real === undefined || !real.startsWith(devicesRoot + "/")) return undefined;
  }
  const b = busFromDevicePath(real.slice(devicesRoot.length + 1));
  if (!b) return undefined;
  const out: BusInfo = { type: b.type, address: b.address };
  if (b.pciPath) {
    const pciDir = path.join(devicesRoot, b.pciPath);
    const numa = Number(await readTrim(r, path.join(pciDir, "numa_node")));
    if (Number.isInteger(numa) && numa >= 0) out.numaNode = numa;
    if (await exists(r, path.join(pciDir, "current_link_speed"))) {
      out.pcie = true;
      if (out.type === BusType.PCI) out.type = BusType.PCIE;
    }
  }
  return out;
}

/** Interface addresses of the host network namespace (see perf/parsers if-inet6, fib-trie, route), keyed by interface. */
export async function readAddresses(
  paths: Pick<HostPaths, "proc">,
  r = factsReader(),
): Promise<{ v4: Map<string, string[]>; v6: Map<string, string[]> }> {
  // <proc>/1/net is the host's network namespace even when the agent runs in its own (it needs
  // <proc> to be the host's procfs); <proc>/net is the reader's own namespace.
  for (const dir of [path.join(paths.proc, "1", "net"), path.join(paths.proc, "net")]) {
    const inet6 = await readTrim(r, path.join(dir, "if_inet6"));
    const trie = await readTrim(r, path.join(dir, "fib_trie"));
    const route = await readTrim(r, path.join(dir, "route"));
    if (inet6 === undefined && trie === undefined) continue;
    return {
      v6: parseIfInet6(inet6 ?? ""),
      v4: assignIpv4(parseFibTrieLocal(trie ?? ""), parseRoutes(route ?? "")),
    };
  }
  return { v4: new Map(), v6: new Map() };
}

export async function readNetDeviceFacts(
  sysRoot: string,
  name: string,
  addrs: { v4: Map<string, string[]>; v6: Map<string, string[]> },
  r = factsReader(),
): Promise<NetDeviceFacts> {
  const dir = path.join(sysRoot, "class", "net", name);
  const bond = await exists(r, path.join(dir, "bonding"));
  const bridge = await exists(r, path.join(dir, "bridge"));
  let members: string[] = [];
  if (bond) members = ((await readTrim(r, path.join(dir, "bonding", "slaves"))) ?? "").split(/\s+/).filter(Boolean);
  else if (bridge) members = (await r.io.listOptional(path.join(dir, "brif"), r.signal)).map((e) => e.name);
  const tun = await readTrim(r, path.join(dir, "tun_flags"));
  const facts: NetDeviceFacts = {
    bond,
    bridge,
    device: await exists(r, path.join(dir, "device")),
    members: members.sort(),
    ipv4: addrs.v4.get(name) ?? [],
    ipv6: addrs.v6.get(name) ?? [],
  };
  if (tun !== undefined && Number.isInteger(Number(tun))) facts.tunFlags = Number(tun);
  const bus = await readBus(sysRoot, path.join(dir, "device"), r);
  if (bus) facts.bus = bus;
  return facts;
}

export async function readBlockDeviceFacts(sysRoot: string, dev: string, r = factsReader()): Promise<BlockDeviceFacts> {
  const bus = await readBus(sysRoot, path.join(sysRoot, "block", dev, "device"), r);
  return bus ? { bus } : {};
}

/** Every fact the graph needs besides the collectors' outputs; unreadable files are listed in r.errors. */
export async function readHostFacts(paths: HostPaths, devices: { net: string[]; block: string[] }, r = factsReader()): Promise<HostFacts> {
  const [machineId, systemUuid, hostname, architecture, statText, kernelVersion, osInfo, addrs] = await Promise.all([
    readMachineId(paths, r),
    readSystemUuid(paths, r),
    readHostname(paths, r),
    readArchitecture(paths, r),
    readTrim(r, path.join(paths.proc, "stat")),
    readKernelVersion(paths, r),
    readOsInfo(paths, r),
    readAddresses(paths, r),
  ]);
  const net: Record<string, NetDeviceFacts> = {};
  for (const n of devices.net) net[n] = await readNetDeviceFacts(paths.sys, n, addrs, r);
  const block: Record<string, BlockDeviceFacts> = {};
  for (const d of devices.block) block[d] = await readBlockDeviceFacts(paths.sys, d, r);
  return {
    machineId,
    systemUuid,
    hostname,
    architecture,
    bootTimeSeconds: parseBootTime(statText ?? ""),
    kernelVersion,
    osInfo,
    net,
    block,
  };
}
