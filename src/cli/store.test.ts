// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// `store` arguments become one typed query; usage errors are ConfigErrors (exit 2).

import { describe, expect, test } from "bun:test";
import { ConfigError, loadConfig } from "../config/load.ts";
import { parseStoreQuery } from "./store.ts";

const query = (argv: string[]) => {
  const { positionals, config } = loadConfig({ command: "store", argv, env: {} });
  return parseStoreQuery(positionals, config);
};

describe("store arguments to a typed query", () => {
  test("each subcommand with its filters; empty filters are no filter", () => {
    expect(query(["resources", "--type", "k8s.io"])).toEqual({ command: "resources", type: "k8s.io" });
    expect(query(["resources", "--type="])).toEqual({ command: "resources", type: undefined });
    expect(query(["relationships", "--subject=a", "--predicate", "kubernetes.v1.Owns"])).toEqual({
      command: "relationships",
      subject: "a",
      object: undefined,
      predicate: "kubernetes.v1.Owns",
    });
    expect(query(["stats"])).toEqual({ command: "stats" });
  });

  const usageErrors: Array<[string[], string]> = [
    [[], 'store needs one of: resources, relationships, stats (got "")'],
    [["bogus"], 'store needs one of: resources, relationships, stats (got "bogus")'],
    [["resources", "--nope", "x"], 'unknown flag --nope for "store"'],
    [["resources", "extra"], 'unexpected argument "extra"'],
    [["stats", "--type", "x"], 'invalid --type: applies to "store resources" only, not "store stats"'],
    [["resources", "--subject", "k"], 'invalid --subject: applies to "store relationships" only, not "store resources"'],
  ];
  for (const [argv, message] of usageErrors) {
    test(`store ${argv.join(" ")} is a usage error`, () => {
      expect(() => query(argv)).toThrow(ConfigError);
      expect(() => query(argv)).toThrow(message);
    });
  }
});
