// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// An optional component started after the agent is ready instead of before: the lifecycle goes on at
// once, readiness does not wait for it, and its start (the runtime graph's first scan and eBPF loads,
// which hold the main thread) does not compete with what readiness waits for.

import type { Logger } from "../log/logger.ts";
import { errorMessage } from "../util/errors.ts";
import type { Component } from "./component.ts";

export interface BackgroundStartOptions {
  /** Start once this holds (polled every 20 ms; e.g. the agent's readiness), or after `maxWaitMs` regardless. */
  after?: () => boolean;
  maxWaitMs?: number;
}

/**
 * Wraps `inner` so its start runs in the background, once `after` holds. A start that fails is logged
 * (the component is optional). Stop waits for a start still running (within the deadline) and stops
 * what started; a stop before the start began cancels it.
 */
export type BackgroundComponent = Component & {
  /** Whether its start is over: it ran (started or failed) or the component was stopped first. */
  settled(): boolean;
};

export function startInBackground(inner: Component, logger: Logger, opts: BackgroundStartOptions = {}): BackgroundComponent {
  let starting: Promise<boolean> | undefined;
  let cancelled = false;
  let settled = false;
  const waitFor = async () => {
    const end = Date.now() + (opts.maxWaitMs ?? 30_000);
    while (opts.after && !opts.after() && Date.now() < end && !cancelled) await Bun.sleep(20);
  };
  return {
    name: inner.name,
    required: false,
    async start() {
      starting = waitFor()
        .then(() => {
          if (cancelled) throw new Error("stopped before it started");
          return inner.start();
        })
        .then(
          () => {
            logger.info({ component: inner.name }, "started in the background");
            return true;
          },
          (e) => {
            logger.warn({ component: inner.name, err: errorMessage(e) }, "optional component unavailable; continuing without it");
            return false;
          },
        )
        .finally(() => {
          settled = true;
        });
    },
    async stop(deadline) {
      cancelled = true;
      if (!starting) return;
      const aborted = new Promise<"aborted">((resolve) => {
        if (deadline.aborted) resolve("aborted");
        deadline.addEventListener("abort", () => resolve("aborted"), { once: true });
      });
      const started = await Promise.race([starting, aborted]);
      if (started === "aborted") throw new Error(`${inner.name} was still starting when the stop deadline passed`);
      if (started) await inner.stop(deadline);
    },
    isReady: () => true,
    settled: () => settled || cancelled,
  };
}

export type BuiltOnStart<C extends Component> = Component & { built(): C | undefined };

/**
 * A component built when it starts: `build` loads its modules and makes it, so nothing of it (module
 * evaluation, descriptors, construction) costs anything before. Made for startInBackground: the
 * host and runtime graphs start after readiness and no longer load before it. `built()` is the
 * component once made (undefined before its start).
 */
export function buildOnStart<C extends Component>(name: string, build: () => Promise<C>): BuiltOnStart<C> {
  let inner: C | undefined;
  return {
    name,
    required: false,
    async start() {
      inner ??= await build();
      await inner.start();
    },
    async stop(deadline) {
      await inner?.stop(deadline);
    },
    isReady: () => inner?.isReady() ?? false,
    built: () => inner,
  };
}
