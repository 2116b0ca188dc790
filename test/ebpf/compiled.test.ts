// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * The compiled binary runs eBPF on a host without libbpf: it embeds execsnoop.bpf.o and its own
 * libz/libelf/libbpf (via scripts/build-plugins.ts), loads them from memfds, and reads the ring
 * buffer in the worker entrypoint. The host's copies are hidden with bind mounts in a private
 * mount namespace while it runs.
 */

import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pluginsFor } from "../../scripts/build-plugins.ts";

const ROOT = join(import.meta.dir, "..", "..");
const dir = mkdtempSync(join(tmpdir(), "am-ebpf-compiled-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const HIDE = ["libbpf.so.1", "libelf.so.1", "libz.so.1"].map((n) => `/usr/lib/x86_64-linux-gnu/${n}`);

describe("compiled binary with embedded eBPF assets", () => {
  test("traces execs with no libbpf, libelf or libz on the host", async () => {
    const outfile = join(dir, "ebpf-smoke");
    const build = await Bun.build({
      entrypoints: [join(ROOT, "test/ebpf/fixtures/compiled-main.ts"), join(ROOT, "src/ebpf/ringbuf-worker.ts")],
      compile: { outfile, target: "bun-linux-x64-baseline" },
      format: "esm",
      bytecode: true,
      minify: true,
      plugins: pluginsFor("x64"),
    } as Parameters<typeof Bun.build>[0]);
    expect(build.logs.map(String)).toEqual([]);
    expect(build.success).toBe(true);

    const marker = `hidden-libs-${process.pid}`;
    const mounts = HIDE.map((p) => `mount --bind /dev/null "$(readlink -f ${p})"`).join(" && ");
    const script = `set -e; ${mounts}; ANTIMETAL_LIBBPF=system "$1" "$2" > "$3.system" 2>&1 || true; exec "$1" "$2"`;
    const r = Bun.spawnSync(["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", outfile, marker, join(dir, "out")], {
      stdout: "pipe",
      stderr: "pipe",
      cwd: dir,
    });
    const stdout = r.stdout.toString();
    expect(r.exitCode).toBe(0);
    const out = JSON.parse(stdout.trim().split("\n").pop()!);
    expect(out.libbpf).toMatchObject({ source: "embedded", version: "1.1" });
    expect(out.errors).toEqual([]);
    expect(out.seen).toHaveLength(1);
    expect(out.seen[0]).toMatchObject({ comm: "echo", args: ["/bin/echo", marker], retval: 0 });
    // Only memfd copies are mapped, never a file from the host's library directories.
    expect(out.maps.length).toBeGreaterThanOrEqual(3);
    for (const m of out.maps) expect(m).toMatch(/^\/memfd:lib(bpf|elf|z)\.so\.1/);
    // And the host copies really were unusable: asking for the system libbpf fails there.
    const sys = await Bun.file(join(dir, "out.system")).text();
    expect(sys).toMatch(/libbpf|errors/);
    expect(sys).not.toContain(marker + '"]');
  }, 60_000);
});
