// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * Calls `handler` once on the first SIGTERM or SIGINT. A second signal while the handler runs
 * exits at once with 130, for an operator who does not want to wait.
 */

export function onShutdownSignal(handler: (signal: NodeJS.Signals) => Promise<void>): void {
  let called = false;
  const on = (signal: NodeJS.Signals) => {
    if (called) {
      process.stderr.write(`antimetal-agent: second ${signal}, exiting now\n`);
      process.exit(130);
    }
    called = true;
    void handler(signal);
  };
  process.on("SIGTERM", on);
  process.on("SIGINT", on);
}

/**
 * Calls `handler` on every SIGHUP (reload). Installed, SIGHUP no longer ends the process (its
 * default action); a reload still running when the next SIGHUP comes is followed by one more.
 */
export function onReloadSignal(handler: () => Promise<void>): () => void {
  let running: Promise<void> | undefined;
  let again = false;
  const on = () => {
    if (running) {
      again = true;
      return;
    }
    running = handler().finally(() => {
      running = undefined;
      if (again) {
        again = false;
        on();
      }
    });
  };
  process.on("SIGHUP", on);
  return () => process.off("SIGHUP", on);
}
