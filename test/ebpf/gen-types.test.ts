// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * The generated TypeScript layout matches the C header (the checked-in file is up to date) and
 * the BTF clang emitted into the compiled object (what the kernel and libbpf see).
 */

import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { ebpfAssets } from "../../src/ebpf/assets.ts";
import { EXECSNOOP_EVENT_LAYOUT, EXECSNOOP_EVENT_SIZE } from "../../src/ebpf/gen/execsnoop_types.ts";

const ROOT = join(import.meta.dir, "..", "..");

describe("generated eBPF types", () => {
  test("bun scripts/gen-ebpf-types.ts --check passes", () => {
    const r = Bun.spawnSync([process.execPath, join(ROOT, "scripts", "gen-ebpf-types.ts"), "--check"], { stdout: "pipe", stderr: "pipe" });
    expect(r.stderr.toString()).toBe("");
    expect(r.exitCode).toBe(0);
  });

  test("layout equals struct execsnoop_event in the object's BTF", () => {
    const obj = ebpfAssets().objects.execsnoop;
    expect(obj).toBeDefined();
    const r = Bun.spawnSync(["bpftool", "-j", "btf", "dump", "file", obj!], { stdout: "pipe", stderr: "pipe" });
    expect(r.exitCode).toBe(0);
    const types = JSON.parse(r.stdout.toString()).types as Array<{
      name?: string;
      kind: string;
      size?: number;
      members?: Array<{ name: string; bits_offset: number }>;
    }>;
    const s = types.find((t) => t.kind === "STRUCT" && t.name === "execsnoop_event");
    expect(s).toBeDefined();
    expect(s!.size).toBe(EXECSNOOP_EVENT_SIZE);
    const fromBtf: Record<string, number> = {};
    for (const m of s!.members!) fromBtf[m.name] = m.bits_offset / 8;
    const fromTs: Record<string, number> = Object.fromEntries(Object.entries(EXECSNOOP_EVENT_LAYOUT).map(([k, v]) => [k, v.offset]));
    expect(fromTs).toEqual(fromBtf);
  });
});
