// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Shared pieces of the configuration tests: a logger the test can read, and polling with a reason.

import { Writable } from "node:stream";
import { createLogger, type Logger } from "../../src/log/logger.ts";

export function capturedLogger(level: "debug" | "info" = "debug"): {
  logger: Logger;
  text: () => string;
  lines: () => Array<Record<string, unknown>>;
} {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      if (process.env.CONFIG_TEST_DEBUG) process.stderr.write(chunk);
      cb();
    },
  });
  const text = () => chunks.join("");
  const lines = () =>
    text()
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { logger: createLogger({ level, destination }), text, lines };
}

export async function waitUntil(what: string, ok: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await ok()) return;
    await Bun.sleep(20);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
}
