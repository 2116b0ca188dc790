// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Shared helpers of the intake tests: a capturing logger, fast backoff, an in-memory store, an intake
// component with test defaults, outbox depth, and checks on the versions the server received.

import { Writable } from "node:stream";
import { createIntakeComponent, type IntakeComponent, type IntakeOptions } from "../../src/intake/index.ts";
import { createLogger, type Logger } from "../../src/log/logger.ts";
import { openStore } from "../../src/store/index.ts";
import type { Store } from "../../src/store/types.ts";
import type { ServerRecord } from "./harness.ts";

export const FAST_BACKOFF = { initialMs: 50, multiplier: 1.5, maxMs: 500, jitter: 0.5 };

/** A logger whose output the test can read. */
export function capturedLogger(level: "debug" | "info" = "debug"): { logger: Logger; text: () => string } {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      if (process.env.INTAKE_TEST_DEBUG) process.stderr.write(chunk);
      cb();
    },
  });
  return { logger: createLogger({ level, destination }), text: () => chunks.join("") };
}

export function memoryStore(logger: Logger): Store {
  return openStore({ dataDirectory: "", logger });
}

export function intake({
  store,
  ...opts
}: Partial<Omit<IntakeOptions, "outbox">> & Pick<IntakeOptions, "address" | "logger"> & { store: Store }): IntakeComponent {
  return createIntakeComponent({
    secure: true,
    maxStreamAge: 600_000,
    ackInterval: 300,
    outbox: store.outbox,
    ...opts,
    tuning: { backoff: FAST_BACKOFF, permanentBackoff: FAST_BACKOFF, ackTimeoutMs: 5_000, ...opts.tuning },
  });
}

export function depth(store: Store): number {
  return store.outbox.stats("cluster").depth + store.outbox.stats("instance").depth;
}

/** Per object name, the versions (tag v) in arrival order. */
export function versionsByName(records: ServerRecord[]): Map<string, number[]> {
  const m = new Map<string, number[]>();
  for (const r of records) {
    if (r.kind !== "resource.v1.Resource" || r.op === "DELETE") continue;
    const v = Number(r.tags.v);
    const list = m.get(r.name) ?? [];
    list.push(v);
    m.set(r.name, list);
  }
  return m;
}

export function nonDecreasing(xs: number[]): boolean {
  for (let i = 1; i < xs.length; i++) if (xs[i]! < xs[i - 1]!) return false;
  return true;
}
