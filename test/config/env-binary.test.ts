// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The compiled binary with an environment set up for other commands: each command reads only its own variables.

import { expect, test } from "bun:test";
import { requireBinary } from "../helpers/agent-process.ts";

const FOREIGN = {
  ANTIMETAL_CHECK_FORMAT: "text",
  ANTIMETAL_STORE_TYPE: "antimetal.hardware.v1",
  ANTIMETAL_FORMAT: "text",
  ANTIMETAL_TYPE: "x",
  ANTIMETAL_PRINT_CONFIG: "true",
  // what the DaemonSet and the systemd unit set for run: collect once failed on it under kubectl exec
  ANTIMETAL_COLLECTORS: "all,execsnoop",
};

async function exec(args: string[], env: Record<string, string>) {
  const p = Bun.spawn([requireBinary(), ...args], { stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { stdout, stderr, code };
}

test("collect ignores run's, check's and store's variables and the old generic names", async () => {
  const r = await exec(["collect", "--collectors", "load"], FOREIGN);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  expect(Object.keys(JSON.parse(r.stdout))).toContain("load");
});

test("collect reads its own scoped variable", async () => {
  const r = await exec(["collect", "--collectors", "load"], { ANTIMETAL_COLLECT_FORMAT: "xml" });
  expect(r.code).toBe(2);
  expect(r.stderr).toContain("invalid --format (env ANTIMETAL_COLLECT_FORMAT)");
});

test("run is not turned into --print-config by an environment variable", async () => {
  const p = Bun.spawn(
    [
      requireBinary(),
      "run",
      "--intake-address",
      "",
      "--enable-kubernetes-controller=false",
      "--enable-hardware-discovery=false",
      "--data-directory",
      "",
      "--health-probe-bind-address",
      "127.0.0.1:0",
      "--metrics-bind-address",
      "127.0.0.1:0",
    ],
    {
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, ...FOREIGN },
    },
  );
  await Bun.sleep(1500);
  expect(p.exitCode).toBeNull(); // still running, not printing a config and exiting
  p.kill("SIGTERM");
  expect(await p.exited).toBe(0);
}, 20_000);
