// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// `antimetal-agent check` tries the configured intake once (time-boxed, no data sent) and says
// what happened, in text and JSON.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { IntakeServer, makePki, type Pki, ROOT } from "./harness.ts";

let pki: Pki;
beforeAll(() => {
  pki = makePki();
}, 30_000);
afterAll(() => pki.cleanup());

function check(args: string[]): { status: number | null; stdout: string } {
  const r = spawnSync(path.join(ROOT, "node_modules/.bin/bun"), [path.join(ROOT, "src/main.ts"), "check", ...args], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout };
}

test("check reports a working intake, a refused one, a bad key and a turned-off upload, sending no data", async () => {
  const srv = await IntakeServer.start({ pki, apiKey: "check-cli-key", quiet: true });
  try {
    const address = `127.0.0.1:${srv.port}`;
    const ok = check(["--format", "json", "--intake-address", address, "--intake-ca-file", pki.ca, "--intake-api-key", "check-cli-key"]);
    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.stdout).intake).toMatchObject({ address, ok: true, code: "OK" });

    const badKey = check(["--intake-address", address, "--intake-ca-file", pki.ca, "--intake-api-key", "wrong"]);
    expect(badKey.status).toBe(0);
    expect(badKey.stdout).toMatch(new RegExp(`^intake ${address}: failing: UNAUTHENTICATED \\(unauthenticated\\): .* \\(\\d+ ms\\)$`, "m"));
    expect(badKey.stdout).not.toContain("wrong");

    const st = await srv.state();
    expect(st.records).toBe(0);
    expect(st.heartbeats).toBe(0);
  } finally {
    await srv.kill();
  }
  // the server is gone: the same address is now refused
  const refused = check([
    "--format",
    "json",
    "--intake-address",
    `127.0.0.1:${srv.port}`,
    "--intake-ca-file",
    pki.ca,
    "--intake-api-key",
    "k",
  ]);
  expect(JSON.parse(refused.stdout).intake).toMatchObject({ ok: false, code: "UNAVAILABLE", reason: "connection_refused" });
  expect(JSON.parse(refused.stdout).intake.details).toContain("ECONNREFUSED");

  const off = check(["--intake-address", ""]);
  expect(off.stdout).toMatch(/^intake: off \(--intake-address ""\)$/m);
}, 120_000);
