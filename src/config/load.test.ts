// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

import { describe, expect, test } from "bun:test";
import { ConfigError, loadConfig, redactedView } from "./load.ts";

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
