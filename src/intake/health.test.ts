// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Failure reasons from the messages grpc-js gives under Bun, and when a failure is warned about.

import { expect, test } from "bun:test";
import { Writable } from "node:stream";
import { status } from "@grpc/grpc-js";
import { createLogger } from "../log/logger.ts";
import { failureReason, UploadHealth } from "./health.ts";

const unavailable = (details: string) => ({ code: status.UNAVAILABLE, codeName: "UNAVAILABLE", details });

test("failure reasons from the transport's messages and status codes", () => {
  expect(failureReason(unavailable("No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:1"))).toBe(
    "connection_refused",
  );
  expect(failureReason(unavailable("Name resolution failed for target dns:nonexistent.invalid:443"))).toBe("dns");
  expect(failureReason(unavailable("No connection established. Last error: Error: unable to verify the first certificate"))).toBe("tls");
  expect(failureReason(unavailable("No connection established. Last error: Protocol error (2026-12-05T08:09:55.416Z)"))).toBe("protocol");
  expect(failureReason(unavailable("No connection established. Last error: Failed to connect (2026-12-05T08:09:55.423Z)"))).toBe(
    "connection_failed",
  );
  expect(failureReason(unavailable("Connection dropped"))).toBe("connection_reset");
  expect(failureReason({ code: status.INTERNAL, codeName: "INTERNAL", details: "Response message parsing error" })).toBe("protocol");
  expect(failureReason({ code: status.UNAUTHENTICATED, codeName: "UNAUTHENTICATED", details: "bad key" })).toBe("unauthenticated");
  expect(failureReason({ code: status.DEADLINE_EXCEEDED, codeName: "DEADLINE_EXCEEDED", details: "Deadline exceeded" })).toBe("timeout");
  expect(failureReason({ code: -1, codeName: "WATCHDOG", details: "ack_timeout" })).toBe("watchdog");
  expect(failureReason({ code: status.UNKNOWN, codeName: "UNKNOWN", details: "?" })).toBe("other");
});

test("a warn per change of reason, none per retry; a lone reset is not a change; recovery is logged once", () => {
  const lines: Array<{ level: string; msg: string; reason?: string; address?: string }> = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  const health = new UploadHealth("intake.example:443", createLogger({ level: "info", destination }));
  const refused = unavailable("connect ECONNREFUSED 10.0.0.1:443");
  health.failed("cluster", refused);
  health.failed("instance", refused);
  health.failed("cluster", refused);
  expect(lines.map((l) => [l.level, l.reason, l.address])).toEqual([["warn", "connection_refused", "intake.example:443"]]);
  health.succeeded();
  health.succeeded();
  expect(lines.filter((l) => l.level === "info")).toHaveLength(1);
  // one reset after success is what a recycled connection looks like; two in a row are a state
  health.failed("cluster", unavailable("Connection dropped"));
  health.succeeded();
  expect(lines).toHaveLength(2);
  health.failed("cluster", unavailable("Connection dropped"));
  health.failed("cluster", unavailable("Connection dropped"));
  expect(lines.at(-1)).toMatchObject({ level: "warn", reason: "connection_reset" });
  // a poison entry is not a connection state
  health.failed("cluster", { code: status.INVALID_ARGUMENT, codeName: "INVALID_ARGUMENT", details: "bad object" });
  expect(lines).toHaveLength(3);
  expect(health.snapshot()).toMatchObject({ failing: true, lastError: { reason: "invalid_argument", details: "bad object" } });
});
