// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Compiles the agent into one executable per architecture:
//   dist/antimetal-agent        linux x64 (baseline CPU target, runs on any x86-64 since Nehalem)
//   dist/antimetal-agent-arm64  linux arm64
// Offline: the arm64 runtime comes from the @oven/bun-linux-aarch64 npm package of the same Bun
// version. Usage: bun scripts/build.ts [--arch x64|arm64|all] (default all).

import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BunPlugin } from "bun";
import { $ } from "bun";
import pkg from "../package.json" with { type: "json" };

type Arch = "x64" | "arm64";
const root = join(import.meta.dir, "..");
const argArch = process.argv.includes("--arch") ? process.argv[process.argv.indexOf("--arch") + 1] : "all";
const arches: Arch[] = argArch === "all" ? ["x64", "arm64"] : [argArch as Arch];

const revision = (await $`git -C ${root} rev-parse --short=12 HEAD`.nothrow().quiet()).stdout.toString().trim() || "unknown";
const dirty = (await $`git -C ${root} status --porcelain --untracked-files=no`.nothrow().quiet()).stdout.toString().trim() !== "";
const build = { version: pkg.version, revision: dirty ? `${revision}-dirty` : revision, date: new Date().toISOString() };

/** Extra entrypoints that run in Workers; a compiled binary can only start workers it was built with. */
const WORKERS = ["src/ebpf/ringbuf-worker.ts", "src/perf/read-worker.ts"].filter((p) => existsSync(join(root, p)));

async function pluginsFor(arch: Arch): Promise<BunPlugin[]> {
  const file = join(root, "scripts/build-plugins.ts");
  if (!existsSync(file)) return [];
  const mod = (await import(file)) as { pluginsFor(arch: Arch): BunPlugin[] | Promise<BunPlugin[]> };
  return mod.pluginsFor(arch);
}

/**
 * The arm64 Bun runtime, unpacked from the @oven/bun-linux-aarch64 npm tarball of the same version
 * into node_modules/@oven/bun-linux-aarch64. `npm pack` only downloads; an `npm install --cpu=arm64`
 * would re-resolve the whole tree for arm64 and remove the x64 binaries of other packages.
 */
async function arm64Runtime(): Promise<string> {
  const dir = join(root, "node_modules/@oven/bun-linux-aarch64");
  const bin = join(dir, "bin/bun");
  if (existsSync(bin)) return bin;
  const tmp = mkdtempSync(join(tmpdir(), "bun-arm64-"));
  try {
    const name = (await $`npm pack --silent @oven/bun-linux-aarch64@${Bun.version}`.cwd(tmp).quiet()).stdout
      .toString()
      .trim()
      .split("\n")
      .pop()!;
    mkdirSync(dir, { recursive: true });
    await $`tar -xzf ${join(tmp, name)} -C ${dir} --strip-components=1`.quiet();
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  if (!existsSync(bin)) throw new Error(`arm64 Bun runtime not found at ${bin} after unpacking @oven/bun-linux-aarch64@${Bun.version}`);
  return bin;
}

for (const arch of arches) {
  const outfile = join(root, "dist", arch === "x64" ? "antimetal-agent" : "antimetal-agent-arm64");
  const result = await Bun.build({
    entrypoints: [join(root, "src/entry.ts"), ...WORKERS.map((w) => join(root, w))],
    compile: {
      target: arch === "x64" ? "bun-linux-x64-baseline" : "bun-linux-arm64",
      outfile,
      autoloadDotenv: false,
      autoloadBunfig: false,
      ...(arch === "arm64" ? { executablePath: await arm64Runtime() } : {}),
    },
    bytecode: true,
    format: "esm",
    // Code splitting keeps tree-shaking for modules loaded with import() (kube, intake, the AWS SDK):
    // without it a lazily imported subtree is bundled whole (@aws-sdk/client-ec2: 1.16 MB of JS
    // instead of the ~30 KB DescribeInstances needs). Chunks are embedded and loaded from /$bunfs.
    splitting: true,
    minify: true,
    sourcemap: "none",
    define: { ANTIMETAL_BUILD: JSON.stringify(build), "process.env.NODE_ENV": '"production"' },
    plugins: await pluginsFor(arch),
  });
  if (!result.success) {
    for (const log of result.logs) console.error(log);
    throw new Error(`build for ${arch} failed`);
  }
  console.log(`built ${outfile} (${build.version}, ${build.revision}, ${arch})`);
}
