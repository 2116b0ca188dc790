// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Runs fixtures/loopback-burst.ts for the tcpflow tests: its server's port is known before any
// connection is made (so the test can pick its flows out), and `go()` starts the burst.

import { join } from "node:path";

export interface LoopbackBurst {
  port: number;
  /** Starts the `count` connections. */
  go(): void;
  /** The helper's exit code (0 once every connection closed). */
  exited: Promise<number>;
}

export async function startLoopbackBurst(count: number): Promise<LoopbackBurst> {
  const child = Bun.spawn([process.execPath, join(import.meta.dir, "fixtures/loopback-burst.ts"), String(count)], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "inherit",
  });
  const reader = (child.stdout as ReadableStream<Uint8Array>).getReader();
  const port = Number(new TextDecoder().decode((await reader.read()).value).trim());
  return {
    port,
    go: () => {
      child.stdin.write("go\n");
      child.stdin.flush();
    },
    exited: child.exited,
  };
}
