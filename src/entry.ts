// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The compiled binary's entry: applies --jit (which may replace the process with itself under other
// JavaScriptCore options) before the agent's modules load, then runs src/main.ts.

import { applyJitTiers } from "./runtime/jit.ts";

applyJitTiers(process.argv.slice(2), process.env, (file, args, env) => {
  if (!process.execve) throw new Error("process.execve is not available");
  process.execve(file, args, env);
});
await import("./main.ts");
