// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * The arm64 build embeds the arm64 libz/libelf/libbpf and execsnoop object: built offline with the
 * @oven/bun-linux-aarch64 runtime (installed by scripts/build.ts) and run under
 * qemu-aarch64-static with an arm64 glibc sysroot (scripts/build-ebpf.sh). qemu-user has no bpf()
 * syscall, so the run ends at bpf_object__load with ENOSYS: everything before it (memfd dlopen of
 * the three arm64 libraries in order, libbpf 1.x, bpf_object__open_mem of the arm64 object) ran.
 */

import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pluginsFor } from "../../scripts/build-plugins.ts";

const ROOT = join(import.meta.dir, "..", "..");
const ARM64_BUN = join(ROOT, "node_modules/@oven/bun-linux-aarch64/bin/bun");
const SYSROOT = join(process.env.ANTIMETAL_CACHE ?? "/var/cache/antimetal-dev", "ebpf", "arm64-sysroot");
const QEMU = "/usr/bin/qemu-aarch64-static";
const dir = mkdtempSync(join(tmpdir(), "am-ebpf-arm64-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("arm64 compiled binary", () => {
  test("loads its embedded arm64 libbpf from memfds and opens its arm64 object (under qemu-user)", async () => {
    for (const need of [ARM64_BUN, join(SYSROOT, "lib/ld-linux-aarch64.so.1"), QEMU]) {
      expect(existsSync(need) ? need : `missing ${need} (run scripts/setup.sh)`).toBe(need);
    }
    const outfile = join(dir, "ebpf-smoke-arm64");
    const build = await Bun.build({
      entrypoints: [join(ROOT, "test/ebpf/fixtures/compiled-main.ts"), join(ROOT, "src/ebpf/ringbuf-worker.ts")],
      compile: { outfile, target: "bun-linux-arm64", executablePath: ARM64_BUN },
      format: "esm",
      minify: true,
      plugins: pluginsFor("arm64"),
    } as Parameters<typeof Bun.build>[0]);
    expect(build.logs.map(String)).toEqual([]);
    expect(build.success).toBe(true);

    const r = Bun.spawnSync([QEMU, "-L", SYSROOT, outfile, "arm64-marker"], { stdout: "pipe", stderr: "pipe", cwd: dir });
    const out = JSON.parse(r.stdout.toString().trim().split("\n").pop()!);
    expect(out.libbpf).toMatchObject({ source: "embedded", version: "1.1" });
    expect([...out.maps].sort()).toEqual(["/memfd:libbpf.so.1 (deleted)", "/memfd:libelf.so.1 (deleted)", "/memfd:libz.so.1 (deleted)"]);
    expect(out.errors).toHaveLength(1);
    // errno 38 is ENOSYS: qemu-user has no bpf(), so loading is where the arm64 run must stop.
    expect(out.errors[0].errors.execsnoop).toMatch(/^loading eBPF object execsnoop \(bpf_object__load\): .+ \(errno 38\)$/);
  }, 120_000);
});
