// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Tests of scripts/check_core_support.sh on this VM: as root it reports full CO-RE support, without
// capabilities it names the missing ones; both exit 0.

import { describe, expect, test } from "bun:test";
import { join } from "node:path";

const SCRIPT = join(import.meta.dir, "..", "..", "scripts", "check_core_support.sh");

describe("scripts/check_core_support.sh", () => {
  test("as root on this VM: full CO-RE, ring buffer, execsnoop available", () => {
    const r = Bun.spawnSync(["bash", SCRIPT], { stdout: "pipe" });
    const out = r.stdout.toString();
    expect(r.exitCode).toBe(0);
    expect(out).toMatch(/^btf: +yes/m);
    expect(out).toMatch(/^ring buffer: +yes/m);
    expect(out).toMatch(/^co-re: +full$/m);
    expect(out).toMatch(/CAP_BPF=yes CAP_PERFMON=yes/);
    expect(out).toMatch(/^execsnoop: +available$/m);
  });

  test("without capabilities: names the missing ones and still exits 0", () => {
    const r = Bun.spawnSync(["setpriv", "--inh-caps=-all", "--bounding-set=-all", "--", "bash", SCRIPT], { stdout: "pipe" });
    const out = r.stdout.toString();
    expect(r.exitCode).toBe(0);
    expect(out).toMatch(/CapEff=0x0+ CAP_BPF=no CAP_PERFMON=no CAP_SYS_ADMIN=no CAP_SYSLOG=no/);
    expect(out).toMatch(/^execsnoop: +unavailable: missing capability: CAP_BPF; missing capability: CAP_PERFMON$/m);
  });
});
