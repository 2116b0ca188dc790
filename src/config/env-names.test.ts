// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Environment names cannot collide: a variable meant for one command never reaches another.

import { describe, expect, test } from "bun:test";
import { ConfigError, loadConfig } from "./load.ts";
import { type Command, envNames, OPTIONS, type OptionKey, type OptionSpec, optionsFor } from "./schema.ts";

const COMMANDS: Command[] = ["run", "collect", "store", "check"];
const KEYS = Object.keys(OPTIONS) as OptionKey[];

test("every environment variable belongs to exactly one option", () => {
  const owner = new Map<string, OptionKey>();
  for (const k of KEYS) {
    for (const name of envNames(k)) {
      expect(owner.get(name) ?? k).toBe(k);
      owner.set(name, k);
    }
  }
});

test("per-command options with generic names are scoped to their command; --print-config has none", () => {
  expect(envNames("format")).toEqual(["ANTIMETAL_COLLECT_FORMAT"]);
  expect(envNames("checkFormat")).toEqual(["ANTIMETAL_CHECK_FORMAT"]);
  expect(envNames("duration")).toEqual(["ANTIMETAL_COLLECT_DURATION"]);
  expect(envNames("storeType")).toEqual(["ANTIMETAL_STORE_TYPE"]);
  expect(envNames("storeSubject")).toEqual(["ANTIMETAL_STORE_SUBJECT"]);
  expect(envNames("storeObject")).toEqual(["ANTIMETAL_STORE_OBJECT"]);
  expect(envNames("storePredicate")).toEqual(["ANTIMETAL_STORE_PREDICATE"]);
  expect(envNames("collectCollectors")).toEqual(["ANTIMETAL_COLLECT_COLLECTORS"]);
  expect(envNames("collectors")).toEqual(["ANTIMETAL_COLLECTORS"]);
  expect(envNames("printConfig")).toEqual([]);
  for (const k of KEYS) {
    const spec: OptionSpec = OPTIONS[k];
    if (spec.scoped) expect(spec.commands.length).toBe(1);
  }
});

describe("a variable meant for another command never breaks this one", () => {
  for (const command of COMMANDS) {
    test(command, () => {
      const mine = new Set(optionsFor(command).flatMap((k) => envNames(k)));
      const env: Record<string, string> = {};
      for (const k of KEYS)
        for (const name of envNames(k)) if (!mine.has(name)) env[name] = "garbage: not a value any option of this command accepts";
      // the generic names an older release read, set to values another command would have wanted
      Object.assign(env, {
        ANTIMETAL_FORMAT: "text",
        ANTIMETAL_TYPE: "x",
        ANTIMETAL_DURATION: "forever",
        ANTIMETAL_SUBJECT: "s",
        ANTIMETAL_PRINT_CONFIG: "true",
      });
      const argv = command === "store" ? ["stats"] : [];
      const { config } = loadConfig({ command, argv, env });
      if (command === "run") expect(config.printConfig).toBe(false);
    });
  }
});

test("scoped variables reach their own command", () => {
  expect(loadConfig({ command: "check", argv: [], env: { ANTIMETAL_CHECK_FORMAT: "json" } }).config.checkFormat).toBe("json");
  expect(loadConfig({ command: "store", argv: ["resources"], env: { ANTIMETAL_STORE_TYPE: "antimetal" } }).config.storeType).toBe(
    "antimetal",
  );
  expect(() => loadConfig({ command: "collect", argv: [], env: { ANTIMETAL_COLLECT_FORMAT: "text" } })).toThrow(
    "invalid --format (env ANTIMETAL_COLLECT_FORMAT)",
  );
});

test("run's ANTIMETAL_COLLECTORS (a DaemonSet's all,execsnoop) does not reach collect, nor the file's collectors", () => {
  const env = { ANTIMETAL_COLLECTORS: "all,execsnoop" };
  expect(loadConfig({ command: "collect", argv: [], env }).config.collectCollectors).toEqual([]);
  expect(loadConfig({ command: "run", argv: [], env }).config.collectors).toEqual(["all", "execsnoop"]);
  const file = { argv: ["--config", "/a.yaml"], readFile: () => "collectors: load,execsnoop\n" };
  expect(loadConfig({ command: "collect", env: {}, ...file }).config.collectCollectors).toEqual([]);
  expect(loadConfig({ command: "run", env: {}, ...file }).config.collectors).toEqual(["load", "execsnoop"]);
  expect(
    loadConfig({ command: "collect", argv: ["--collectors", "cpu"], env: { ANTIMETAL_COLLECT_COLLECTORS: "load" } }).config
      .collectCollectors,
  ).toEqual(["cpu"]);
});

test("the shared config file cannot set a per-command or flag-only option", () => {
  const load = (text: string, command: Command = "run") =>
    loadConfig({ command, argv: ["--config", "/a.yaml"], env: {}, readFile: () => text });
  expect(() => load("format: text\n", "collect")).toThrow(ConfigError);
  expect(() => load("format: text\n", "run")).toThrow(
    '"format" is an option of one command invocation, not of the shared config file; give it as a flag or ANTIMETAL_COLLECT_FORMAT for collect or ANTIMETAL_CHECK_FORMAT for check',
  );
  expect(() => load("print-config: true\n")).toThrow(
    '"print-config" is an option of one command invocation, not of the shared config file; give it as a flag',
  );
  expect(() => load("type: x\n", "store")).toThrow("ANTIMETAL_STORE_TYPE for store");
});
