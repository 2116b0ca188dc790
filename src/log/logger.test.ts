// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Log lines are strict JSON: every key once (jq and log pipelines reject or silently drop duplicates).

import { expect, test } from "bun:test";
import { Writable } from "node:stream";
import { parseStrict } from "../../test/helpers/strict-json.ts";
import { createLogger, type LogFormat } from "./logger.ts";

function capture(format: LogFormat = "json") {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      lines.push(
        ...String(chunk)
          .split("\n")
          .filter((l) => l !== ""),
      );
      done();
    },
  });
  return { logger: createLogger({ level: "debug", format, destination }), lines };
}

test("the strict parser catches what JSON.parse lets through", () => {
  expect(() => parseStrict('{"component":"agent","component":"http"}')).toThrow('duplicate key "component"');
  expect(parseStrict('{"a":[1,{"b":"x\\"y"}],"c":null}')).toEqual({ a: [1, { b: 'x"y' }], c: null });
});

test("a child's component replaces its parent's: one component key per JSON line", () => {
  const { logger, lines } = capture();
  logger.info("root");
  const http = logger.child({ component: "http" });
  http.info({ port: 8080 }, "listening");
  http.child({ listener: "metrics" }).warn("inherits the component");
  http.child({ component: "kube" }).child({ component: "reflector" }).error("nested");
  logger.info({ component: "execsnoop" }, "a call's own component wins");
  const records = lines.map((l) => parseStrict(l) as Record<string, unknown>);
  expect(records.map((r) => r.component)).toEqual(["agent", "http", "http", "reflector", "execsnoop"]);
  expect(records[1]).toMatchObject({ level: "info", port: 8080, msg: "listening" });
  expect(records[2]).toMatchObject({ listener: "metrics", level: "warn" });
});

test("child levels, redaction and the text format still work", () => {
  const { logger, lines } = capture();
  logger.child({ component: "quiet" }, { level: "error" }).info("dropped");
  logger.child({ component: "intake" }).info({ intakeApiKey: "k-123", nested: { token: "t-456" } }, "redacted");
  expect(lines).toHaveLength(1);
  const record = parseStrict(lines[0]!) as Record<string, unknown>;
  expect(record).toMatchObject({ component: "intake", intakeApiKey: "[redacted]", nested: { token: "[redacted]" } });

  const text = capture("text");
  text.logger.child({ component: "http" }).info({ port: 1 }, "listening");
  expect(text.lines[0]).toMatch(/^\S+ INFO {2}\[http\] listening port=1$/);
});
