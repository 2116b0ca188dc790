// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * Kernel feature detection for `antimetal-agent check`: kernel version, BTF, ring buffer support,
 * CO-RE level, effective capabilities, libbpf, and per eBPF collector whether it can run here.
 */

import { existsSync, readFileSync } from "node:fs";
import { BPF_MAP_TYPE_RINGBUF } from "../../ffi/libbpf.ts";
import { type LibbpfSource, loadLibbpf } from "../../ffi/loader.ts";
import { CAP, type CapabilityName, effectiveCapabilities, hasCapability, missingCapabilities } from "../system/capabilities.ts";
import { type KernelVersion, kernelAtLeast, kernelVersionFromProcVersion } from "../system/kernel-version.ts";
import { errorMessage } from "../util/errors.ts";
import { type EbpfAssets, ebpfAssets } from "./assets.ts";

export type CoreLevel = "full" | "partial" | "none";

export interface FeatureReport {
  kernel: { raw: string; version: string } | { error: string };
  btf: { present: boolean; path: string };
  ringBuffer: { supported: boolean; probed: boolean; reason: string };
  core: { level: CoreLevel; requiredKernel: string };
  capabilities: { effective: string } & Record<"CAP_BPF" | "CAP_PERFMON" | "CAP_SYS_ADMIN" | "CAP_SYSLOG", boolean>;
  libbpf: { source: LibbpfSource; version: string; path: string } | { error: string };
  collectors: Record<string, Availability>;
}

export interface Availability {
  available: boolean;
  /** Why not, naming the missing capability, kernel version or file. */
  reason?: string;
  missingCapabilities: CapabilityName[];
  requiredCapabilities: CapabilityName[];
  minKernel: string;
}

export interface DetectOptions {
  procVersionPath?: string;
  statusPath?: string;
  btfPath?: string;
  assets?: EbpfAssets;
  libbpfSource?: LibbpfSource;
}

export function readKernelVersion(path = "/proc/version"): KernelVersion | undefined {
  try {
    return kernelVersionFromProcVersion(readFileSync(path, "utf8"));
  } catch {
    // unreadable /proc/version: the report says the kernel is unknown
    return undefined;
  }
}

/** The original's GetEBPFCapabilities: CAP_BPF+CAP_PERFMON on >= 5.8, else (or unknown) CAP_SYS_ADMIN. */
export function ebpfCapabilities(kernel: KernelVersion | undefined): CapabilityName[] {
  return kernel && kernelAtLeast(kernel, 5, 8) ? ["CAP_BPF", "CAP_PERFMON"] : ["CAP_SYS_ADMIN"];
}

export function coreLevel(kernel: KernelVersion | undefined): { level: CoreLevel; requiredKernel: string } {
  if (kernel && kernelAtLeast(kernel, 5, 2)) return { level: "full", requiredKernel: "5.2" };
  if (kernel && kernelAtLeast(kernel, 4, 18)) return { level: "partial", requiredKernel: "4.18" };
  return { level: "none", requiredKernel: "4.18" };
}

/** Whether execsnoop can run with this kernel, these capabilities and these files. */
export function execsnoopAvailability(
  kernel: KernelVersion | undefined,
  capEff: bigint,
  opts: { btfPresent: boolean; assets: EbpfAssets; libbpfSource?: LibbpfSource },
): Availability {
  return programAvailability("execsnoop", kernel, capEff, opts);
}

/** Whether the eBPF object `name` (execsnoop, tcpflow, oomkill: all need the ring buffer and BTF) can run here. */
export function programAvailability(
  name: string,
  kernel: KernelVersion | undefined,
  capEff: bigint,
  opts: { btfPresent: boolean; assets: EbpfAssets; libbpfSource?: LibbpfSource },
): Availability {
  const requiredCapabilities = ebpfCapabilities(kernel);
  const missing = missingCapabilities(capEff, requiredCapabilities);
  const base = { missingCapabilities: missing, requiredCapabilities, minKernel: "5.8" };
  const reasons: string[] = missing.map((c) => `missing capability: ${c}`);
  if (!kernel) reasons.push("kernel version unknown");
  else if (!kernelAtLeast(kernel, 5, 8))
    reasons.push(`kernel ${kernel.major}.${kernel.minor}.${kernel.patch} is older than 5.8 (BPF ring buffer)`);
  if (!opts.btfPresent) reasons.push("kernel BTF (/sys/kernel/btf/vmlinux) missing: CO-RE relocation impossible");
  if (!opts.assets.objects[name]) reasons.push(`${name}.bpf.o not available (run scripts/build-ebpf.sh)`);
  const source = opts.libbpfSource ?? (process.env.ANTIMETAL_LIBBPF === "system" ? "system" : "embedded");
  if (source === "embedded" && !opts.assets.libs)
    reasons.push("embedded libbpf not available (run scripts/build-ebpf.sh or set ANTIMETAL_LIBBPF=system)");
  return reasons.length ? { available: false, reason: reasons.join("; "), ...base } : { available: true, ...base };
}

export async function detectFeatures(opts: DetectOptions = {}): Promise<FeatureReport> {
  const kernel = readKernelVersion(opts.procVersionPath);
  const btfPath = opts.btfPath ?? "/sys/kernel/btf/vmlinux";
  const btfPresent = existsSync(btfPath);
  let capEff = 0n;
  try {
    capEff = await effectiveCapabilities(opts.statusPath);
  } catch {
    // unreadable /proc/self/status: report no capabilities rather than guess
    capEff = 0n;
  }
  const caps = {
    effective: "0x" + capEff.toString(16).padStart(16, "0"),
    CAP_BPF: hasCapability(capEff, "CAP_BPF"),
    CAP_PERFMON: hasCapability(capEff, "CAP_PERFMON"),
    CAP_SYS_ADMIN: hasCapability(capEff, "CAP_SYS_ADMIN"),
    CAP_SYSLOG: hasCapability(capEff, "CAP_SYSLOG"),
  };
  const assets = opts.assets ?? ebpfAssets();

  let libbpf: FeatureReport["libbpf"];
  let lib: ReturnType<typeof loadLibbpf> | undefined;
  try {
    lib = loadLibbpf({ source: opts.libbpfSource, embedded: assets.libs });
    libbpf = { source: lib.source, version: lib.version, path: lib.path };
  } catch (e) {
    libbpf = { error: errorMessage(e) };
  }

  const kernelOk = kernel !== undefined && kernelAtLeast(kernel, 5, 8);
  const canProbe = caps.CAP_SYS_ADMIN || caps.CAP_BPF;
  let ringBuffer: FeatureReport["ringBuffer"];
  if (!kernelOk) {
    ringBuffer = { supported: false, probed: false, reason: kernel ? "kernel older than 5.8" : "kernel version unknown" };
  } else if (lib && canProbe) {
    const r = lib.lib.libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, null);
    ringBuffer =
      r === 1
        ? { supported: true, probed: true, reason: "BPF_MAP_TYPE_RINGBUF created by probe" }
        : { supported: false, probed: true, reason: `probe for BPF_MAP_TYPE_RINGBUF returned ${r}` };
  } else {
    ringBuffer = {
      supported: true,
      probed: false,
      reason: lib ? "kernel >= 5.8; not probed (needs CAP_BPF or CAP_SYS_ADMIN)" : "kernel >= 5.8; not probed (libbpf unavailable)",
    };
  }

  return {
    kernel: kernel
      ? { raw: kernel.raw, version: `${kernel.major}.${kernel.minor}.${kernel.patch}` }
      : { error: "cannot read kernel version from /proc/version" },
    btf: { present: btfPresent, path: btfPath },
    ringBuffer,
    core: coreLevel(kernel),
    capabilities: caps,
    libbpf,
    collectors: {
      execsnoop: execsnoopAvailability(kernel, capEff, { btfPresent, assets, libbpfSource: opts.libbpfSource }),
      tcpflow: programAvailability("tcpflow", kernel, capEff, { btfPresent, assets, libbpfSource: opts.libbpfSource }),
      oomkill: programAvailability("oomkill", kernel, capEff, { btfPresent, assets, libbpfSource: opts.libbpfSource }),
    },
  };
}

/** Human-readable lines for `check`. */
export function formatFeatureReport(r: FeatureReport): string {
  const yes = (b: boolean) => (b ? "yes" : "no");
  const lines = [
    `kernel:        ${"error" in r.kernel ? r.kernel.error : `${r.kernel.version} (${r.kernel.raw})`}`,
    `btf:           ${yes(r.btf.present)} (${r.btf.path})`,
    `ring buffer:   ${yes(r.ringBuffer.supported)} (${r.ringBuffer.reason})`,
    `co-re:         ${r.core.level} (requires kernel >= ${r.core.requiredKernel})`,
    `capabilities:  CapEff=${r.capabilities.effective} ${(["CAP_BPF", "CAP_PERFMON", "CAP_SYS_ADMIN", "CAP_SYSLOG"] as const)
      .map((c) => `${c}=${yes(r.capabilities[c])}`)
      .join(" ")}`,
    `libbpf:        ${"error" in r.libbpf ? `unavailable (${r.libbpf.error})` : `${r.libbpf.version} (${r.libbpf.source})`}`,
  ];
  for (const [name, a] of Object.entries(r.collectors)) {
    lines.push(`collector ${name}: ${a.available ? "available" : `unavailable: ${a.reason}`}`);
  }
  return lines.join("\n") + "\n";
}

export { CAP };
