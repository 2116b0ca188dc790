// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// docs/configuration.md states the same duration ranges and defaults as the option table.

import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { COLLECTOR_INTERVAL_RANGE, envNames, isDurationOption, liveOptions, OPTIONS, type OptionSpec } from "./schema.ts";
import { durationRange, rangeText } from "./validators.ts";

const doc = readFileSync(new URL("../../docs/configuration.md", import.meta.url), "utf8");

test("every duration option's default and range are in docs/configuration.md", () => {
  const durations = (Object.values(OPTIONS) as OptionSpec[]).filter(isDurationOption);
  for (const o of durations) {
    expect(doc).toContain(`| \`--${o.flag}\` | \`${o.default}\` | ${rangeText(durationRange(o.schema)!)} | ${o.commands.join(", ")} |`);
  }
  expect(doc).toContain(`| \`--collector-intervals\` (each \`type=duration\`) | | ${COLLECTOR_INTERVAL_RANGE.join(" to ")} | run |`);
});

test("docs/configuration.md lists every option that reloads live, and every scoped variable", () => {
  const table = doc.slice(doc.indexOf("These options apply at once:"), doc.indexOf("Every other option needs a restart"));
  for (const k of liveOptions()) expect(table).toContain(`\`--${OPTIONS[k].flag}\``);
  for (const o of Object.keys(OPTIONS) as Array<keyof typeof OPTIONS>) {
    if ((OPTIONS[o] as OptionSpec).scoped) for (const name of envNames(o)) expect(doc).toContain(`\`${name}\``);
  }
});
