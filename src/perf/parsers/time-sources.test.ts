// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of the clocksource sysfs parsers and the struct timex decoder (adjtimex(2)).

import { describe, expect, test } from "bun:test";
import { clocksourceDevice, parseAvailableClocksources, parseCurrentClocksource } from "./clocksource.ts";
import { decodeTimex, encodeTimex, TIMEX_SIZE } from "./timex.ts";

test("clocksource files", () => {
  expect(clocksourceDevice("clocksource0")).toBe("0");
  expect(clocksourceDevice("clocksource12")).toBe("12");
  expect(clocksourceDevice("power")).toBeUndefined();
  expect(parseAvailableClocksources("tsc kvm-clock \n")).toEqual(["tsc", "kvm-clock"]);
  expect(parseAvailableClocksources("\n")).toEqual([]);
  expect(parseCurrentClocksource("tsc\n")).toBe("tsc");
  expect(() => parseCurrentClocksource("\n", "/sys/devices/system/clocksource/clocksource0/current_clocksource")).toThrow(
    "clocksource0/current_clocksource: expected one clocksource name",
  );
});

describe("decodeTimex", () => {
  test("unsynchronised clock in microsecond mode (this VM's values)", () => {
    const buf = encodeTimex({ maxerror: 16_000_000, esterror: 16_000_000, status: 64, constant: 2, tick: 10_000 });
    expect(decodeTimex(buf, 5)).toEqual({
      state: 5,
      sync_status: 0,
      offset_seconds: 0,
      frequency_adjustment_ratio: 1,
      maxerror_seconds: 16,
      estimated_error_seconds: 16,
      status: 64,
      loop_time_constant: 2,
      tick_seconds: 0.01,
      pps_frequency_hertz: 0,
      pps_jitter_seconds: 0,
      pps_shift_seconds: 0,
      pps_stability_hertz: 0,
      pps_jitter_total: 0,
      pps_calibration_total: 0,
      pps_error_total: 0,
      pps_stability_exceeded_total: 0,
      tai_offset_seconds: 0,
    });
  });
  test("synchronised NTP clock: STA_NANO offsets, scaled-ppm frequency, negative values, pps counters, TAI", () => {
    const STA_NANO = 0x2000;
    const buf = encodeTimex({
      offset: -250_000,
      freq: -655_360, // -10 ppm in 16-bit fraction
      status: STA_NANO | 0x1,
      jitter: 2_000,
      ppsfreq: 65_536,
      stabil: 131_072,
      shift: 4,
      jitcnt: 3,
      calcnt: 7,
      errcnt: 1,
      stbcnt: 2,
      tai: 37,
    });
    const t = decodeTimex(buf, 0);
    expect(t.sync_status).toBe(1);
    expect(t.offset_seconds).toBeCloseTo(-0.00025, 12);
    expect(t.frequency_adjustment_ratio).toBeCloseTo(1 - 10e-6, 12);
    expect(t.pps_jitter_seconds).toBeCloseTo(2e-6, 12);
    expect(t.pps_frequency_hertz).toBeCloseTo(1e-6, 12);
    expect(t.pps_stability_hertz).toBeCloseTo(2e-6, 12);
    expect([t.pps_shift_seconds, t.pps_jitter_total, t.pps_calibration_total, t.pps_error_total, t.pps_stability_exceeded_total]).toEqual([
      4, 3, 7, 1, 2,
    ]);
    expect(t.tai_offset_seconds).toBe(37);
  });
  test("a short buffer throws", () => {
    expect(() => decodeTimex(new Uint8Array(TIMEX_SIZE - 8), 0)).toThrow("struct timex: 200 bytes, 208 expected");
  });
});
