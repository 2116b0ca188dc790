// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Validation of --collectors: metric type names or "all", anything else is a ConfigError.

import { ConfigError } from "../config/load.ts";
import { METRIC_TYPES } from "../perf/collector.ts";

/** --collectors names metric types, or "all" (every collector available here; execsnoop only when named). */
export function assertKnownCollectors(list: readonly string[]): void {
  const unknown = list.filter((c) => c !== "all" && !(METRIC_TYPES as readonly string[]).includes(c));
  if (unknown.length > 0) {
    throw new ConfigError(
      `invalid --collectors: unknown collector ${unknown.map((u) => JSON.stringify(u)).join(", ")} (known: all, ${METRIC_TYPES.join(", ")})`,
    );
  }
}
