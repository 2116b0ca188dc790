// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The compiled binary refuses bad input with exit 2 and one line naming it (stray words, empty
// booleans, out-of-range durations, oversized or relative config files, intake address, API key),
// never shows the API key, and writes strict JSON log lines.

import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requireBinary } from "../helpers/agent-process.ts";
import { parseStrict } from "../helpers/strict-json.ts";

const dir = mkdtempSync(join(tmpdir(), "agent-cli-input-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function exec(args: string[], env: Record<string, string> = {}, timeoutMs = 10_000) {
  const p = Bun.spawn([requireBinary(), ...args], { stdout: "pipe", stderr: "pipe", cwd: dir, env: { ...process.env, ...env } });
  const timer = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  clearTimeout(timer);
  return { stdout, stderr, code };
}

/** A run that would start the agent if the input were accepted: standalone, ephemeral ports. */
const RUN = [
  "run",
  "--data-directory",
  "",
  "--enable-kubernetes-controller=false",
  "--health-probe-bind-address",
  "127.0.0.1:0",
  "--metrics-bind-address",
  "0",
];

describe("compiled binary: bad input exits 2 with one line naming it", () => {
  const big = join(dir, "big.yaml");
  writeFileSync(big, "");
  truncateSync(big, 50 * 1024 * 1024);
  const cases: Array<[string, string[], Record<string, string>, string]> = [
    [
      "a bare boolean then its value",
      [...RUN, "--leader-elect", "false"],
      {},
      'unexpected argument "false" after --leader-elect: "run" takes no arguments; a boolean flag takes its value after "=" (--leader-elect=false)',
    ],
    ["extra words after run", [...RUN, "extra", "words"], {}, 'unexpected argument "extra": "run" takes no arguments'],
    ["extra words after collect", ["collect", "cpu"], {}, 'unexpected argument "cpu": "collect" takes no arguments'],
    ["an unknown flag of version", ["version", "--bogus"], {}, 'unknown flag --bogus for "version"'],
    ["a word after version", ["version", "now"], {}, 'unexpected argument "now" for "version"'],
    [
      "help about an unknown command",
      ["help", "bogus"],
      {},
      'help takes one command name (commands: run, collect, store, check, version), got "bogus"',
    ],
    [
      "an empty boolean",
      [...RUN, "--intake-secure="],
      {},
      "invalid --intake-secure (flag --intake-secure): must be true or false, got an empty value",
    ],
    [
      "a 1ns duration",
      [...RUN, "--performance-collector-interval", "1ns"],
      {},
      'invalid --performance-collector-interval (flag --performance-collector-interval): must be between 100ms and 24h, got "1ns"',
    ],
    [
      "a 600h duration",
      [...RUN, "--hardware-update-interval", "600h"],
      {},
      'invalid --hardware-update-interval (flag --hardware-update-interval): must be between 1s and 24h, got "600h"',
    ],
    [
      "a 600h collector interval",
      [...RUN, "--intake-address=", "--collector-intervals", "cpu=600h"],
      {},
      'invalid --collector-intervals: cpu: must be between 100ms and 24h, got "600h"',
    ],
    [
      "a relative --config",
      [...RUN, "--config", "agent.yaml"],
      {},
      'invalid --config (flag --config): must be an absolute path, got "agent.yaml"',
    ],
    [
      "a relative ANTIMETAL_CONFIG",
      RUN,
      { ANTIMETAL_CONFIG: "agent.yaml" },
      'invalid --config (env ANTIMETAL_CONFIG): must be an absolute path, got "agent.yaml"',
    ],
    [
      "a 50 MB config file",
      [...RUN, "--config", big],
      {},
      `invalid --config (${big}): 52428800 bytes, over the 1 MiB limit of a config file`,
    ],
    [
      "an intake address with a scheme",
      [...RUN, "--intake-address", "https://intake.antimetal.com:443"],
      {},
      "invalid --intake-address (flag --intake-address): must not have a scheme",
    ],
    [
      "an intake port out of range",
      [...RUN, "--intake-address", "intake.antimetal.com:70000"],
      {},
      "invalid --intake-address (flag --intake-address): the port must be a number from 1 to 65535",
    ],
    ["an unbracketed IPv6 intake", [...RUN, "--intake-address", "::1:443"], {}, "an IPv6 address must be in brackets"],
    ["an unknown store subcommand", ["store", "bogus"], {}, 'store needs one of: resources, relationships, stats (got "bogus")'],
    ["an unknown store flag", ["store", "resources", "--nope", "x"], {}, 'unknown flag --nope for "store"'],
    ["a store filter of another subcommand", ["store", "stats", "--type", "x"], {}, 'invalid --type: applies to "store resources" only'],
  ];
  for (const [name, args, env, message] of cases) {
    test(name, async () => {
      const { stdout, stderr, code } = await exec(args, env);
      expect(code).toBe(2);
      expect(stdout).toBe("");
      expect(stderr.trim().split("\n")).toHaveLength(1);
      expect(stderr).toStartWith("antimetal-agent: ");
      expect(stderr).toContain(message);
    });
  }
});

test("compiled binary: help <command> prints that command's help", async () => {
  const { stdout, code } = await exec(["help", "store"]);
  expect(code).toBe(0);
  expect(stdout).toStartWith("Usage: antimetal-agent store");
});

describe("compiled binary: the API key is never shown", () => {
  const KEY = "am-k3y-7c1e5f0b9d2a";

  test("a key a header cannot carry exits 2 without echoing it, from the environment, the flag or the key file", async () => {
    const keyFile = join(dir, "intake-api-key");
    writeFileSync(keyFile, `${KEY}\u00e9\n`);
    const runs: Array<[string[], Record<string, string>, string]> = [
      [
        [...RUN, "--intake-address", "127.0.0.1:9"],
        { ANTIMETAL_INTAKE_API_KEY: `${KEY}\tx` },
        "invalid --intake-api-key (env ANTIMETAL_INTAKE_API_KEY): contains a control character",
      ],
      [
        [...RUN, "--intake-address", "127.0.0.1:9", "--intake-api-key", `${KEY}\nx`],
        {},
        "invalid --intake-api-key (flag --intake-api-key): contains a control character",
      ],
      [
        [...RUN, "--intake-address", "127.0.0.1:9", "--intake-api-key-file", keyFile, "--log-level", "debug"],
        {},
        `invalid --intake-api-key-file (${keyFile}): the key contains a non-ASCII character`,
      ],
    ];
    for (const [args, env, message] of runs) {
      const { stdout, stderr, code } = await exec(args, env);
      expect(code).toBe(2);
      expect(stderr).toContain(message);
      expect(stderr).toContain("the key is not shown");
      expect(stdout + stderr).not.toContain(KEY);
      expect(stdout + stderr).not.toContain("k3y");
    }
  });

  /** Runs the agent at debug level against an intake port nothing listens on, `during` the run, then SIGTERM. */
  async function runAgainstDeadIntake(keyArgs: string[], during: () => Promise<void>) {
    const dead = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
    const deadPort = dead.port;
    dead.stop(true);
    const p = Bun.spawn(
      [
        requireBinary(),
        ...RUN,
        "--intake-address",
        `127.0.0.1:${deadPort}`,
        "--intake-secure=false",
        "--log-level",
        "debug",
        "--log-format",
        "json",
        ...keyArgs,
      ],
      { stdout: "pipe", stderr: "pipe", cwd: dir },
    );
    const stdoutText = new Response(p.stdout).text();
    const stderrText = new Response(p.stderr).text();
    await during();
    p.kill("SIGTERM");
    const [stdout, stderr, code] = await Promise.all([stdoutText, stderrText, p.exited]);
    const records = stderr
      .trim()
      .split("\n")
      .map((line) => parseStrict(line) as Record<string, unknown>);
    return { output: stdout + stderr, code, records };
  }

  test("a good key at debug level: the intake logs its attempts, the key appears nowhere, every line is strict JSON", async () => {
    const { output, code, records } = await runAgainstDeadIntake(["--intake-api-key", KEY], () => Bun.sleep(3000));
    expect(code).toBe(0);
    expect(records.some((r) => r.component === "intake" && r.level === "debug")).toBe(true);
    expect(records.some((r) => r.msg === "intake started")).toBe(true);
    expect(output).not.toContain(KEY);
    expect(output).not.toContain(Buffer.from(KEY).toString("base64"));
  });

  test("a key file replaced at run time with a key a header cannot carry: reported without the key, never logged", async () => {
    const keyFile = join(dir, "rotated-api-key");
    writeFileSync(keyFile, `${KEY}\n`);
    const { output, code, records } = await runAgainstDeadIntake(["--intake-api-key-file", keyFile], async () => {
      await Bun.sleep(1500);
      writeFileSync(keyFile, `${KEY}-rotated\u00e9\n`);
      await Bun.sleep(4000);
    });
    expect(code).toBe(0);
    expect(records.some((r) => r.msg === "intake API key file holds an unusable key" && r.file === keyFile)).toBe(true);
    expect(output).not.toContain(`${KEY}-rotated`);
    expect(output).not.toContain(KEY);
  });
});
