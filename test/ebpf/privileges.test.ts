// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * Privilege handling: a process without CAP_BPF/CAP_PERFMON gets a clean refusal naming the
 * missing capabilities (run as a child with every capability dropped by setpriv), and
 * feature detection reports what this host has.
 */

import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { ebpfAssets } from "../../src/ebpf/assets.ts";
import { detectFeatures, execsnoopAvailability, formatFeatureReport } from "../../src/ebpf/index.ts";
import { CAP } from "../../src/system/capabilities.ts";
import { parseKernelVersion } from "../../src/system/kernel-version.ts";

const BUN = process.execPath;

describe("execsnoop without capabilities", () => {
  test("refuses with the missing capabilities named; the process keeps running", () => {
    const r = Bun.spawnSync(
      ["setpriv", "--inh-caps=-all", "--bounding-set=-all", "--", BUN, join(import.meta.dir, "fixtures", "unprivileged.ts")],
      { stdout: "pipe", stderr: "pipe", env: { ...process.env } },
    );
    expect(r.exitCode).toBe(0);
    const out = JSON.parse(r.stdout.toString());
    expect(out.isUnavailable).toBe(true);
    expect(out.error).toBe("execsnoop unavailable: missing capability: CAP_BPF, missing capability: CAP_PERFMON");
    expect(out.missing).toEqual(["CAP_BPF", "CAP_PERFMON"]);
    expect(out.features.capabilities).toMatchObject({
      effective: "0x0000000000000000",
      CAP_BPF: false,
      CAP_PERFMON: false,
      CAP_SYS_ADMIN: false,
      CAP_SYSLOG: false,
    });
    expect(out.features.collectors.execsnoop.available).toBe(false);
    expect(out.features.collectors.execsnoop.reason).toContain("missing capability: CAP_BPF");
    expect(out.features.ringBuffer.probed).toBe(false);
    expect(out.command.exitCode).toBe(1);
    expect(JSON.parse(out.command.output).errors.execsnoop).toContain("missing capability: CAP_PERFMON");
  });
});

describe("feature detection", () => {
  test("reports kernel, BTF, probed ring buffer, full CO-RE, capabilities and the embedded libbpf on this host", async () => {
    const f = await detectFeatures();
    expect("version" in f.kernel).toBe(true);
    expect(f.btf.present).toBe(true);
    expect(f.ringBuffer).toMatchObject({ supported: true, probed: true });
    expect(f.core.level).toBe("full");
    expect(f.capabilities.CAP_BPF).toBe(true);
    expect(f.capabilities.CAP_SYS_ADMIN).toBe(true);
    expect(f.libbpf).toMatchObject({ source: "embedded" });
    expect(f.collectors.execsnoop).toMatchObject({ available: true, requiredCapabilities: ["CAP_BPF", "CAP_PERFMON"], minKernel: "5.8" });
    const text = formatFeatureReport(f);
    expect(text).toContain("collector execsnoop: available");
    expect(text).toMatch(/ring buffer: +yes/);
  });

  test("old kernels need CAP_SYS_ADMIN and are refused below 5.8", () => {
    const assets = ebpfAssets();
    const k54 = parseKernelVersion("5.4.0-100-generic");
    const onlySysAdmin = 1n << BigInt(CAP.CAP_SYS_ADMIN);
    const a = execsnoopAvailability(k54, onlySysAdmin, { btfPresent: true, assets });
    expect(a.requiredCapabilities).toEqual(["CAP_SYS_ADMIN"]);
    expect(a.missingCapabilities).toEqual([]);
    expect(a.available).toBe(false);
    expect(a.reason).toContain("older than 5.8");
    const k61 = parseKernelVersion("6.1.0");
    const b = execsnoopAvailability(k61, 1n << BigInt(CAP.CAP_BPF), { btfPresent: false, assets });
    expect(b.missingCapabilities).toEqual(["CAP_PERFMON"]);
    expect(b.reason).toContain("missing capability: CAP_PERFMON");
    expect(b.reason).toContain("BTF");
  });
});
