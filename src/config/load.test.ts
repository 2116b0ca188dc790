// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of config loading: the original agent's defaults, flag > env > file > default precedence,
// flag syntax, ConfigErrors naming the field, and redaction in --print-config.

import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { errorMessage } from "../util/errors.ts";
import { ConfigError, loadConfig, MAX_CONFIG_FILE_BYTES, readBoundedConfigFile, redactedView } from "./load.ts";

const run = (argv: string[], env: Record<string, string> = {}, files: Record<string, string> = {}) =>
  loadConfig({
    command: "run",
    argv,
    env,
    readFile: (p) => {
      if (!(p in files)) throw Object.assign(new Error("no such file"), { code: "ENOENT" });
      return files[p]!;
    },
  });

describe("defaults match the original agent", () => {
  test("run", () => {
    const { config } = run([]);
    expect(config.metricsBindAddress).toBe(":8080");
    expect(config.healthProbeBindAddress).toBe(":8081");
    expect(config.pprofAddress).toBe("0");
    expect(config.leaderElect).toBe(true);
    expect(config.intakeAddress).toBe("intake.antimetal.com:443");
    expect(config.intakeSecure).toBe(true);
    expect(config.maxStreamAge).toBe(600_000);
    expect(config.dataDirectory).toBe("/var/lib/antimetal");
    expect(config.enablePerformanceCollectors).toBe(false);
    expect(config.hardwareUpdateInterval).toBe(300_000);
    expect(config.shutdownTimeout).toBe(20_000);
  });
});

describe("precedence flag > env > file > default", () => {
  const files = { "/etc/agent.yaml": "max-stream-age: 3m\nmetrics-bind-address: ':9000'\nlog-level: debug\n" };
  test("file beats default", () => {
    const { config, sources } = run(["--config", "/etc/agent.yaml"], {}, files);
    expect(config.maxStreamAge).toBe(180_000);
    expect(sources.maxStreamAge).toBe("file");
  });
  test("env beats file", () => {
    const { config } = run(["--config=/etc/agent.yaml"], { ANTIMETAL_MAX_STREAM_AGE: "2m" }, files);
    expect(config.maxStreamAge).toBe(120_000);
    expect(config.metricsBindAddress).toBe(":9000");
  });
  test("flag beats env", () => {
    const { config, sources } = run(["--config=/etc/agent.yaml", "--max-stream-age", "1m"], { ANTIMETAL_MAX_STREAM_AGE: "2m" }, files);
    expect(config.maxStreamAge).toBe(60_000);
    expect(sources.maxStreamAge).toBe("flag");
  });
  test("config file path from env", () => {
    expect(run([], { ANTIMETAL_CONFIG: "/etc/agent.yaml" }, files).config.logLevel).toBe("debug");
  });
  test("host paths and node name from the original's env vars", () => {
    const { config } = run([], { HOST_PROC: "/host/proc", NODE_NAME: "n1" });
    expect(config.hostProc).toBe("/host/proc");
    expect(config.nodeName).toBe("n1");
  });
});

describe("flag syntax", () => {
  test("booleans: bare, =false, single dash", () => {
    expect(run(["--leader-elect=false"]).config.leaderElect).toBe(false);
    expect(run(["-enable-performance-collectors"]).config.enablePerformanceCollectors).toBe(true);
  });
  test("empty intake address turns upload off", () => {
    expect(run(["--intake-address", ""]).config.intakeAddress).toBe("");
  });
  test("positionals and --help", () => {
    const r = loadConfig({ command: "store", argv: ["resources", "--type", "antimetal", "--help"], env: {} });
    expect(r.positionals).toEqual(["resources"]);
    expect(r.help).toBe(true);
    expect(r.config.storeType).toBe("antimetal");
  });
});

describe("bad input is one ConfigError naming the field", () => {
  const cases: Array<[string[], Record<string, string>, string]> = [
    [["--bogus"], {}, 'unknown flag --bogus for "run"'],
    [["--max-stream-age", "ten"], {}, "invalid --max-stream-age (flag --max-stream-age): invalid duration"],
    [["--host-proc", "proc"], {}, 'invalid --host-proc (flag --host-proc): must be an absolute path, got "proc"'],
    [[], { HOST_SYS: "sys" }, "invalid --host-sys (env HOST_SYS): must be an absolute path"],
    [["--config", "/nope.yaml"], {}, "invalid --config (/nope.yaml): cannot read: ENOENT"],
    [["--metrics-bind-address", "8080"], {}, "invalid --metrics-bind-address"],
    [["--leader-elect=maybe"], {}, "invalid --leader-elect (flag --leader-elect): must be true or false"],
    [["--shutdown-timeout"], {}, "flag --shutdown-timeout needs a value"],
    [["--collectors", "cpu"], {}, ""],
  ];
  for (const [argv, env, message] of cases) {
    test(argv.join(" ") || JSON.stringify(env), () => {
      if (message === "") return void expect(() => run(argv, env)).not.toThrow();
      expect(() => run(argv, env)).toThrow(ConfigError);
      expect(() => run(argv, env)).toThrow(message);
    });
  }
  test("unknown key in the config file", () => {
    expect(() => run(["--config", "/a.yaml"], {}, { "/a.yaml": "metrics-bind: x\n" })).toThrow('unknown option "metrics-bind"');
  });
  test("a collect-only flag is unknown to run", () => {
    expect(() => run(["--duration", "5s"])).toThrow('unknown flag --duration for "run"');
  });
});

test("print-config redacts secrets", () => {
  const view = redactedView(run(["--intake-api-key", "s3cr3t"]));
  expect(view["intake-api-key"]).toBe("[redacted]");
  expect(JSON.stringify(view)).not.toContain("s3cr3t");
});

describe("stray words exit 2 naming the word", () => {
  test("a bare boolean followed by a value says how to write --flag=false", () => {
    expect(() => run(["--leader-elect", "false"])).toThrow(
      'unexpected argument "false" after --leader-elect: "run" takes no arguments; a boolean flag takes its value after "=" (--leader-elect=false)',
    );
  });
  test("extra words after run, collect or check", () => {
    expect(() => run(["extra", "words"])).toThrow('unexpected argument "extra": "run" takes no arguments');
    expect(() => loadConfig({ command: "collect", argv: ["--format", "json", "cpu"], env: {} })).toThrow('unexpected argument "cpu"');
    expect(() => loadConfig({ command: "check", argv: ["--", "x"], env: {} })).toThrow('unexpected argument "x"');
  });
  test("--help anywhere wins over a stray word", () => {
    expect(run(["extra", "--help"]).help).toBe(true);
  });
  test("store takes one word", () => {
    expect(loadConfig({ command: "store", argv: ["stats"], env: {} }).positionals).toEqual(["stats"]);
    expect(() => loadConfig({ command: "store", argv: ["resources", "extra"], env: {} })).toThrow(
      'unexpected argument "extra": "store" takes one argument',
    );
  });
});

describe("durations are bounded per option", () => {
  test("1ns and 600h are refused, from any source", () => {
    expect(() => run(["--max-stream-age", "1ns"])).toThrow(
      'invalid --max-stream-age (flag --max-stream-age): must be between 1s and 24h, got "1ns"',
    );
    expect(() => run([], { ANTIMETAL_PERFORMANCE_COLLECTOR_INTERVAL: "600h" })).toThrow(
      'invalid --performance-collector-interval (env ANTIMETAL_PERFORMANCE_COLLECTOR_INTERVAL): must be between 100ms and 24h, got "600h"',
    );
    expect(() => run(["--config", "/a.yaml"], {}, { "/a.yaml": "shutdown-timeout: 2h\n" })).toThrow(
      "invalid --shutdown-timeout (file /a.yaml): must be between 1s and 1h",
    );
  });
});

test("an empty boolean is an error, not true", () => {
  expect(() => run(["--intake-secure="])).toThrow(
    "invalid --intake-secure (flag --intake-secure): must be true or false, got an empty value",
  );
  expect(() => run([], { ANTIMETAL_LEADER_ELECT: "" })).toThrow(
    "invalid --leader-elect (env ANTIMETAL_LEADER_ELECT): must be true or false",
  );
  expect(run(["--intake-secure"]).config.intakeSecure).toBe(true);
});

describe("--config: an absolute path, checked before reading, from the flag and the environment alike", () => {
  test("a relative path is refused before any read", () => {
    const reads: string[] = [];
    const load = (argv: string[], env: Record<string, string>) =>
      loadConfig({
        command: "run",
        argv,
        env,
        readFile: (p) => {
          reads.push(p);
          return "";
        },
      });
    expect(() => load(["--config", "rel.yaml"], {})).toThrow('invalid --config (flag --config): must be an absolute path, got "rel.yaml"');
    expect(() => load([], { ANTIMETAL_CONFIG: "rel.yaml" })).toThrow(
      'invalid --config (env ANTIMETAL_CONFIG): must be an absolute path, got "rel.yaml"',
    );
    expect(reads).toEqual([]);
  });
});

describe("--config file size is capped at 1 MiB", () => {
  const dir = mkdtempSync(join(tmpdir(), "agent-cfg-size-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  test("a 50 MB file is refused from its size, without reading it", () => {
    const big = join(dir, "big.yaml");
    writeFileSync(big, "");
    truncateSync(big, 50 * 1024 * 1024); // sparse: the size is there, the bytes are not
    const t0 = performance.now();
    expect(() => loadConfig({ command: "run", argv: ["--config", big], env: {} })).toThrow(
      `invalid --config (${big}): 52428800 bytes, over the 1 MiB limit of a config file`,
    );
    expect(performance.now() - t0).toBeLessThan(1000);
  });
  test("exactly 1 MiB is read", () => {
    const edge = join(dir, "edge.yaml");
    const line = "log-level: warn\n";
    writeFileSync(edge, line + "#".repeat(MAX_CONFIG_FILE_BYTES - line.length - 1) + "\n");
    expect(readBoundedConfigFile(edge).length).toBe(MAX_CONFIG_FILE_BYTES);
    expect(loadConfig({ command: "run", argv: ["--config", edge], env: {} }).config.logLevel).toBe("warn");
  });
  test("a directory is named as such", () => {
    expect(() => loadConfig({ command: "run", argv: ["--config", dir], env: {} })).toThrow(
      `invalid --config (${dir}): is a directory, not a file`,
    );
  });
});

test("--intake-address is host:port at startup", () => {
  expect(() => run(["--intake-address", "https://intake.antimetal.com"])).toThrow(
    "invalid --intake-address (flag --intake-address): must not have a scheme",
  );
  expect(() => run(["--intake-address", "intake.antimetal.com:99999"])).toThrow("the port must be a number from 1 to 65535");
  expect(run(["--intake-address", "[::1]:50051"]).config.intakeAddress).toBe("[::1]:50051");
});

test("an API key a header cannot carry is refused without echoing it", () => {
  for (const load of [() => run(["--intake-api-key", "s3cr3t\nkey"]), () => run([], { ANTIMETAL_INTAKE_API_KEY: "s3cr3t\u00e9key" })]) {
    let message = "";
    try {
      load();
    } catch (e) {
      message = errorMessage(e);
    }
    expect(message).toStartWith("invalid --intake-api-key (");
    expect(message).toContain("the key is not shown");
    expect(message).not.toContain("s3cr3t");
  }
});
