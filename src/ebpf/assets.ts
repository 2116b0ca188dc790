// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * Where the eBPF objects and the libz/libelf/libbpf copies come from.
 *
 * Running from source (`bun src/main.ts`, `bun test`), this module points at ebpf/build/
 * (scripts/build-ebpf.sh). In the compiled binary, scripts/build-plugins.ts replaces this file's
 * contents at bundle time with imports of the per-arch files `with { type: "file" }`, so the
 * same function returns /$bunfs/... paths embedded in the executable.
 */

import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { EmbeddedLibs } from "../../ffi/loader.ts";

export type EbpfArch = "x64" | "arm64";

export interface EbpfAssets {
  arch: EbpfArch;
  /** True inside the compiled binary. */
  embedded: boolean;
  /** Object name (e.g. "execsnoop") -> path of its .bpf.o. */
  objects: Record<string, string>;
  /** The three shared libraries, if present. */
  libs: EmbeddedLibs | undefined;
}

export function ebpfAssets(): EbpfAssets {
  const arch: EbpfArch = process.arch === "arm64" ? "arm64" : "x64";
  const build = process.env.ANTIMETAL_BPF_PATH ?? join(import.meta.dir, "..", "..", "ebpf", "build");
  const objects: Record<string, string> = {};
  const objDir = join(build, arch);
  if (existsSync(objDir)) {
    for (const f of readdirSync(objDir)) if (f.endsWith(".bpf.o")) objects[f.slice(0, -".bpf.o".length)] = join(objDir, f);
  }
  const libDir = join(build, "lib", arch);
  const libs = {
    libz: join(libDir, "libz.so.1"),
    libelf: join(libDir, "libelf.so.1"),
    libbpf: join(libDir, "libbpf.so.1"),
  };
  const haveLibs = Object.values(libs).every((p) => existsSync(p));
  return { arch, embedded: false, objects, libs: haveLibs ? libs : undefined };
}
