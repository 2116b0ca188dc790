// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Parsers for /sys/devices/system/clocksource/clocksourceN/{available,current}_clocksource and for the
// clocksourceN directory names (node_time_clocksource_*_info{device}).

import { fields } from "./num.ts";

/** The N of a "clocksourceN" directory, or undefined for any other entry (power, uevent). */
export function clocksourceDevice(dirName: string): string | undefined {
  const m = /^clocksource([0-9]+)$/.exec(dirName);
  return m ? m[1] : undefined;
}

/** available_clocksource: space-separated names ("tsc kvm-clock \n"). */
export function parseAvailableClocksources(text: string): string[] {
  return fields(text);
}

/** current_clocksource: one name; throws naming the file when it holds none or several. */
export function parseCurrentClocksource(text: string, file = "current_clocksource"): string {
  const f = fields(text);
  if (f.length !== 1) throw new Error(`${file}: expected one clocksource name, got ${JSON.stringify(text.trim())}`);
  return f[0]!;
}
