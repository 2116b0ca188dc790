// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/** The generated tcpflow record layout equals struct tcpflow_event in the compiled object's BTF (what the kernel writes). */

import { expect, test } from "bun:test";
import { ebpfAssets } from "../../src/ebpf/assets.ts";
import { TCPFLOW_EVENT_LAYOUT, TCPFLOW_EVENT_SIZE } from "../../src/ebpf/gen/tcpflow_types.ts";

test("layout equals struct tcpflow_event in tcpflow.bpf.o's BTF, for both architectures", () => {
  const x64 = ebpfAssets().objects.tcpflow;
  expect(x64).toBeDefined();
  for (const obj of [x64!, x64!.replace("/x64/", "/arm64/")]) {
    const r = Bun.spawnSync(["bpftool", "-j", "btf", "dump", "file", obj], { stdout: "pipe", stderr: "pipe" });
    expect(r.exitCode).toBe(0);
    const types = JSON.parse(r.stdout.toString()).types as Array<{
      name?: string;
      kind: string;
      size?: number;
      members?: Array<{ name: string; bits_offset: number }>;
    }>;
    const s = types.find((t) => t.kind === "STRUCT" && t.name === "tcpflow_event");
    expect(s).toBeDefined();
    expect(s!.size).toBe(TCPFLOW_EVENT_SIZE);
    const fromBtf = Object.fromEntries(s!.members!.map((m) => [m.name, m.bits_offset / 8]));
    const fromTs: Record<string, number> = Object.fromEntries(Object.entries(TCPFLOW_EVENT_LAYOUT).map(([k, v]) => [k, v.offset]));
    expect(fromTs).toEqual(fromBtf);
  }
});
