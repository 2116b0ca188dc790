// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// LiveConfig with a real --config file: what a reload applies, what it reports as needing a
// restart (including live options whose part was off at startup), and reverting a change.

import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LiveConfig } from "../../src/cli/live-config.ts";
import { loadConfig } from "../../src/config/load.ts";
import { capturedLogger } from "./helpers.ts";

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

function setup(yaml: string, argv: string[] = []) {
  dir = mkdtempSync(join(tmpdir(), "cfg-live-"));
  const file = join(dir, "agent.yaml");
  writeFileSync(file, yaml);
  const fullArgv = ["--config", file, ...argv];
  const env = { ANTIMETAL_INTAKE_API_KEY: "k1" };
  const log = capturedLogger();
  const live = new LiveConfig({
    loaded: loadConfig({ command: "run", argv: fullArgv, env }),
    argv: fullArgv,
    env,
    logger: log.logger,
    validate: () => undefined,
  });
  return { file, live, log };
}

test("without collectors or an intake running, their live options wait for a restart", async () => {
  const { file, live } = setup("log-level: info\n");
  writeFileSync(file, "log-level: warn\ncollectors: load\nintake-api-key-file: /run/key\n");
  const r = await live.reload("SIGHUP");
  expect(r).toEqual({ result: "applied", applied: ["log-level"], needsRestart: ["collectors", "intake-api-key-file"] });
  expect(live.config.logLevel).toBe("warn");
  expect(live.config.collectors).toEqual([]);
  expect(live.view().needsRestart).toEqual(["collectors", "intake-api-key-file"]);
});

test("a restart-only change is reported once; reverting it clears it; flags keep winning over the file", async () => {
  const { file, live, log } = setup("max-stream-age: 10m\n", ["--log-level", "error"]);
  writeFileSync(file, "max-stream-age: 5m\nlog-level: debug\n");
  expect(await live.reload("file")).toEqual({ result: "applied", applied: [], needsRestart: ["max-stream-age"] });
  expect(live.config.logLevel).toBe("error"); // the flag wins
  expect(await live.reload("SIGHUP")).toEqual({ result: "unchanged", applied: [], needsRestart: [] });
  expect(live.view().needsRestart).toEqual(["max-stream-age"]);
  writeFileSync(file, "max-stream-age: 10m\n");
  expect(await live.reload("SIGHUP")).toEqual({ result: "unchanged", applied: [], needsRestart: [] });
  expect(live.view().needsRestart).toBeUndefined();
  const lines = log.lines().filter((l) => String(l.msg).startsWith("config reloaded"));
  expect(lines.map((l) => l.msg)).toEqual([
    "config reloaded: needs a restart: max-stream-age",
    "config reloaded: nothing changed",
    "config reloaded: nothing changed",
  ]);
});

test("a bad file is refused whole: nothing of it applies", async () => {
  const { file, live, log } = setup("log-level: info\n");
  writeFileSync(file, "log-level: debug\nshutdown-timeout: 2h\n");
  const r = await live.reload("SIGHUP");
  expect(r.result).toBe("error");
  expect(r.error).toBe(`invalid --shutdown-timeout (file ${file}): must be between 1s and 1h, got "2h"`);
  expect(live.config.logLevel).toBe("info");
  expect(log.text()).toContain("config reload failed; the configuration in force is kept");
});
