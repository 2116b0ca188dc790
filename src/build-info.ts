// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Version, git revision and build date of this binary: baked in by scripts/build.ts, "-dev" from source.

import pkg from "../package.json" with { type: "json" };

/** Baked in by scripts/build.ts through `define`; running from source reports a dev build. */
declare const ANTIMETAL_BUILD: { version: string; revision: string; date: string } | undefined;

export interface BuildInfo {
  version: string;
  revision: string;
  date: string;
}

export const buildInfo: BuildInfo =
  typeof ANTIMETAL_BUILD === "undefined" ? { version: `${pkg.version}-dev`, revision: "unknown", date: "unknown" } : ANTIMETAL_BUILD;
