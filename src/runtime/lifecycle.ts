// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Starts the agent's components in order and stops them in reverse; a failed required component aborts
// the start, an optional one is left out. Also the readiness behind /readyz.

import type { Logger } from "../log/logger.ts";
import { type ComponentState, setComponentState } from "../metrics/self.ts";
import { errorMessage } from "../util/errors.ts";
import type { Component } from "./component.ts";

export interface Readiness {
  ready: boolean;
  /** Why not ready: "<component>: <state>" entries, or "shutting down". */
  reasons: string[];
}

/**
 * Starts components in order and stops them in reverse. A required component that fails to start
 * aborts the start (what started is stopped again); an optional one is logged and left out.
 */
export class Lifecycle {
  private readonly states = new Map<Component, ComponentState>();
  private readonly started: Component[] = [];
  private stopping = false;

  constructor(
    private readonly components: Component[],
    private readonly logger: Logger,
    private readonly startTimeoutMs = 30_000,
  ) {
    for (const c of components) this.setState(c, "pending");
  }

  async start(): Promise<void> {
    for (const c of this.components) {
      if (this.stopping) return;
      const log = this.logger.child({ component: c.name });
      this.setState(c, "starting");
      try {
        await withTimeout(c.start(), this.startTimeoutMs, `${c.name} did not start within ${this.startTimeoutMs} ms`);
        this.started.push(c);
        this.setState(c, "running");
        log.info("started");
      } catch (e) {
        const reason = errorMessage(e);
        if (c.required) {
          this.setState(c, "failed");
          log.error({ err: reason }, "required component failed to start");
          await this.stop(10_000);
          throw new Error(`${c.name} failed to start: ${reason}`);
        }
        this.setState(c, "degraded");
        log.warn({ err: reason }, "optional component unavailable; continuing without it");
      }
    }
  }

  readiness(): Readiness {
    if (this.stopping) return { ready: false, reasons: ["shutting down"] };
    const reasons: string[] = [];
    for (const c of this.components) {
      const state = this.states.get(c)!;
      if (state === "degraded") continue;
      if (state !== "running") reasons.push(`${c.name}: ${state}`);
      else if (!c.isReady()) reasons.push(`${c.name}: not synced`);
    }
    return { ready: reasons.length === 0, reasons };
  }

  /** Stops started components in reverse within `budgetMs`. Returns false if the budget ran out. */
  async stop(budgetMs: number): Promise<boolean> {
    this.stopping = true;
    const deadline = AbortSignal.timeout(budgetMs);
    let clean = true;
    while (this.started.length > 0) {
      const c = this.started.pop()!;
      const log = this.logger.child({ component: c.name });
      this.setState(c, "stopping");
      try {
        await Promise.race([
          c.stop(deadline),
          new Promise((_, reject) => {
            if (deadline.aborted) reject(new Error("shutdown budget exhausted"));
            deadline.addEventListener("abort", () => reject(new Error("shutdown budget exhausted")), { once: true });
          }),
        ]);
        this.setState(c, "stopped");
        log.info("stopped");
      } catch (e) {
        clean = false;
        this.setState(c, "failed");
        log.error({ err: errorMessage(e) }, "stop failed");
      }
    }
    return clean;
  }

  /** Components that did not stop cleanly (their stop failed or ran out of budget), by name. */
  unstopped(): string[] {
    return this.components
      .filter((c) => this.states.get(c) === "stopping" || (this.stopping && this.states.get(c) === "failed"))
      .map((c) => c.name);
  }

  private setState(c: Component, state: ComponentState): void {
    this.states.set(c, state);
    setComponentState(c.name, state);
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
