// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// `npm start` installs only what running the agent needs: scripts/run-local.sh calls
// `scripts/setup.sh --run-only`, whose Debian packages and steps (`--list`) are the eBPF build
// toolchain, the base tools and the x86-64 build, and none of the test toolchain; `npm test`
// (setup.sh without arguments) still installs everything.

import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { REPO } from "./manifests.ts";

function list(args: string[]): { apt: string[]; steps: string[] } {
  const r = spawnSync("bash", [path.join(REPO, "scripts/setup.sh"), ...args, "--list"], { encoding: "utf8" });
  expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
  const lines = r.stdout.trim().split("\n");
  return {
    apt: lines.filter((l) => l.startsWith("apt ")).map((l) => l.slice(4)),
    steps: lines.filter((l) => l.startsWith("step ")).map((l) => l.slice(5)),
  };
}

const TEST_ONLY = [
  "containerd",
  "runc",
  "qemu-user-static",
  "debootstrap",
  "skopeo",
  "umoci",
  "systemd-container",
  "prometheus-node-exporter",
  "libbpf-tools",
  "prometheus",
  "rpm",
  "openssl",
];

describe("setup modes", () => {
  test("npm start runs run-local.sh, which sets up with --run-only", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toBe("bash scripts/run-local.sh");
    expect(fs.readFileSync(path.join(REPO, "scripts/run-local.sh"), "utf8")).toMatch(/^bash "\$ROOT\/scripts\/setup\.sh" --run-only$/m);
  });

  test("--run-only: the eBPF build toolchain and the binary build, no test tool, no Go build", () => {
    const run = list(["--run-only"]);
    for (const p of ["clang", "llvm", "bpftool", "libbpf-dev", "libelf-dev", "zlib1g-dev", "libbpf1", "libelf1", "zlib1g", "binutils"])
      expect(run.apt).toContain(p);
    expect(run.apt.filter((p) => TEST_ONLY.includes(p))).toEqual([]);
    expect(run.steps).toEqual(["20-ebpf.sh", "90-build.sh"]);
  });

  test("without arguments (npm test): every package and step, the run-only ones included", () => {
    const all = list([]);
    const run = list(["--run-only"]);
    for (const p of [...run.apt, ...TEST_ONLY]) expect(all.apt).toContain(p);
    const steps = fs
      .readdirSync(path.join(REPO, "scripts/setup.d"))
      .filter((f) => f.endsWith(".sh"))
      .sort();
    expect(all.steps).toEqual(steps);
    expect(steps).toContain("50-kube-testenv.sh");
    expect(steps).toContain("65-packaging.sh");
  });

  test("the run-only steps build for this host only; an unknown argument exits 2", () => {
    expect(fs.readFileSync(path.join(REPO, "scripts/setup.d/90-build.sh"), "utf8")).toContain('scripts/build.ts" --arch x64');
    expect(fs.readFileSync(path.join(REPO, "scripts/setup.d/20-ebpf.sh"), "utf8")).toContain('build-ebpf.sh" --no-arm64-libs');
    const r = spawnSync("bash", [path.join(REPO, "scripts/setup.sh"), "--fast"], { encoding: "utf8" });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("unknown argument --fast");
  });
});
