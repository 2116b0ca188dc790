// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// A script bundled with the compiled agent's build plugins (scripts/build-plugins.ts), to compare what
// the bundle does with what the source does: write the entry, bundle it, run either and read its JSON.

import { expect } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { pluginsFor } from "../../scripts/build-plugins.ts";

export interface PluginBundle {
  /** The entry script as written (runs the source). */
  entry: string;
  /** The bundled entry (runs through the plugins). */
  bundled: string;
  /** The bundle's text. */
  text: string;
}

/** Writes `lines` as `dir`/entry.ts and bundles it with the x64 binary's plugins (all but the first). */
export async function bundleWithPlugins(dir: string, lines: string[]): Promise<PluginBundle> {
  const entry = path.join(dir, "entry.ts");
  fs.writeFileSync(entry, lines.join("\n"));
  const outdir = path.join(dir, "out");
  const built = await Bun.build({ entrypoints: [entry], outdir, target: "bun", format: "esm", plugins: pluginsFor("x64").slice(1) });
  expect(built.success).toBe(true);
  const bundled = path.join(outdir, "entry.js");
  return { entry, bundled, text: fs.readFileSync(bundled, "utf8") };
}

/** Runs a script with this Bun; it must exit 0 (its stderr is the message otherwise). Its stdout as JSON. */
export async function runJson<T>(script: string): Promise<T> {
  const p = Bun.spawn([process.execPath, script], { stdout: "pipe", stderr: "pipe" });
  const [text, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  expect(await p.exited, err).toBe(0);
  return JSON.parse(text) as T;
}
