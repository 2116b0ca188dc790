// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Decoder of the struct timex adjtimex(2) fills (LP64 layout: x86_64, arm64) into the values node_exporter's
// timex collector serves, with its unit conversions.

/** sizeof(struct timex) on LP64 Linux (the trailing 11 ints of padding included). */
export const TIMEX_SIZE = 208;

/** adjtimex(2)'s return value when the clock is not synchronized. */
export const TIME_ERROR = 5;
/** status bit: offset and jitter are in nanoseconds instead of microseconds. */
const STA_NANO = 0x2000;
/** Scaled ppm of freq, ppsfreq and stabil (adjtimex(2) NOTES: 16-bit fraction). */
const PPM16FRAC = 1_000_000 * 65_536;

/** Byte offsets of the struct timex fields read (LP64). */
const OFF = {
  offset: 8,
  freq: 16,
  maxerror: 24,
  esterror: 32,
  status: 40,
  constant: 48,
  tick: 88,
  ppsfreq: 96,
  jitter: 104,
  shift: 112,
  stabil: 120,
  jitcnt: 128,
  calcnt: 136,
  errcnt: 144,
  stbcnt: 152,
  tai: 160,
} as const;

/** The timex values in node_exporter's units (JSON of the timex metric type). */
export interface TimexStats {
  /** adjtimex(2)'s return value (clock state; 5 = TIME_ERROR). */
  state: number;
  /** 1 unless the state is TIME_ERROR. */
  sync_status: number;
  offset_seconds: number;
  frequency_adjustment_ratio: number;
  maxerror_seconds: number;
  estimated_error_seconds: number;
  status: number;
  loop_time_constant: number;
  tick_seconds: number;
  pps_frequency_hertz: number;
  pps_jitter_seconds: number;
  pps_shift_seconds: number;
  pps_stability_hertz: number;
  pps_jitter_total: number;
  pps_calibration_total: number;
  pps_error_total: number;
  pps_stability_exceeded_total: number;
  tai_offset_seconds: number;
}

/** Decodes a struct timex after adjtimex(2) returned `state`; throws when the buffer is short. */
export function decodeTimex(buf: Uint8Array, state: number): TimexStats {
  if (buf.byteLength < TIMEX_SIZE) throw new Error(`struct timex: ${buf.byteLength} bytes, ${TIMEX_SIZE} expected`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const long = (at: number) => Number(dv.getBigInt64(at, true));
  const int = (at: number) => dv.getInt32(at, true);
  const status = int(OFF.status);
  const divisor = (status & STA_NANO) !== 0 ? 1e9 : 1e6;
  return {
    state,
    sync_status: state === TIME_ERROR ? 0 : 1,
    offset_seconds: long(OFF.offset) / divisor,
    frequency_adjustment_ratio: 1 + long(OFF.freq) / PPM16FRAC,
    maxerror_seconds: long(OFF.maxerror) / 1e6,
    estimated_error_seconds: long(OFF.esterror) / 1e6,
    status,
    loop_time_constant: long(OFF.constant),
    tick_seconds: long(OFF.tick) / 1e6,
    pps_frequency_hertz: long(OFF.ppsfreq) / PPM16FRAC,
    pps_jitter_seconds: long(OFF.jitter) / divisor,
    pps_shift_seconds: int(OFF.shift),
    pps_stability_hertz: long(OFF.stabil) / PPM16FRAC,
    pps_jitter_total: long(OFF.jitcnt),
    pps_calibration_total: long(OFF.calcnt),
    pps_error_total: long(OFF.errcnt),
    pps_stability_exceeded_total: long(OFF.stbcnt),
    tai_offset_seconds: int(OFF.tai),
  };
}

/** Encodes a struct timex (tests build fixtures with it; the layout is the one decodeTimex reads). */
export function encodeTimex(v: Partial<Record<keyof typeof OFF, number>>): Uint8Array {
  const buf = new Uint8Array(TIMEX_SIZE);
  const dv = new DataView(buf.buffer);
  for (const [k, at] of Object.entries(OFF) as [keyof typeof OFF, number][]) {
    const x = v[k] ?? 0;
    if (k === "status" || k === "shift" || k === "tai") dv.setInt32(at, x, true);
    else dv.setBigInt64(at, BigInt(x), true);
  }
  return buf;
}
