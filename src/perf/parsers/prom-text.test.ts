// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of the Prometheus text format parser and renderer used by the textfile collector: families
// with HELP and TYPE, histograms, escapes, special floats, timestamps, and malformed input named by line.

import { describe, expect, test } from "bun:test";
import { parsePromText, renderPromText } from "./prom-text.ts";

describe("parsePromText", () => {
  test("families, labels, histograms and untyped samples", () => {
    const fams = parsePromText(`# HELP apt_upgrades_pending Apt package pending updates by origin.
# TYPE apt_upgrades_pending gauge
apt_upgrades_pending{arch="amd64",origin="Debian:bookworm/stable"} 3
apt_upgrades_pending{arch="all",origin="Debian:bookworm/stable",} 1
# a comment
# TYPE backup_seconds histogram
backup_seconds_bucket{le="1"} 0
backup_seconds_bucket{le="+Inf"} 2
backup_seconds_sum 3.5
backup_seconds_count 2
reboot_required 0
`);
    expect(fams.map((f) => [f.name, f.type, f.samples.length])).toEqual([
      ["apt_upgrades_pending", "gauge", 2],
      ["backup_seconds", "histogram", 4],
      ["reboot_required", undefined, 1],
    ]);
    expect(fams[0]!.help).toBe("Apt package pending updates by origin.");
    expect(fams[0]!.samples[1]!.labels).toEqual([
      ["arch", "all"],
      ["origin", "Debian:bookworm/stable"],
    ]);
  });
  test("escapes in label values and HELP; NaN, Inf and exponents", () => {
    const [f] = parsePromText('# HELP x a\\\\b\\nc\nx{path="C:\\\\dir\\"q\\"\\n"} -Inf\nx{path="b"} NaN\nx{path="c"} 1.5e3\n');
    expect(f!.help).toBe("a\\b\nc");
    expect(f!.samples[0]!.labels[0]![1]).toBe('C:\\dir"q"\n');
    expect(f!.samples.map((s) => s.value)).toEqual([Number.NEGATIVE_INFINITY, Number.NaN, 1500]);
  });
  test("a timestamp is kept (the textfile collector refuses it)", () => {
    expect(parsePromText("x 1 1700000000000\n")[0]!.samples[0]!.timestampMs).toBe(1700000000000);
  });
  test("malformed lines name the line", () => {
    const bad: [string, string][] = [
      ["x 1\nbad metric{\n", 'line 2: expected float as value, got "metric{"'],
      ["x{a=1} 2\n", 'line 1: expected \'"\' to start the value of label "a"'],
      ['x{a="1} 2\n', 'line 1: unterminated value of label "a"'],
      ['x{a="1",a="2"} 2\n', 'line 1: duplicate label name "a"'],
      ["x\n", 'line 1: no value for metric "x"'],
      ["# TYPE x gauge\n# TYPE x counter\nx 1\n", "line 2: second TYPE line"],
      ["# TYPE x gauges\n", 'line 1: unknown metric type "gauges"'],
      ["x 1\n# TYPE x gauge\n", 'line 2: TYPE line for metric name "x" after its samples'],
      ["x 1\nx 2\n", "line 2: series x with the same labels given twice"],
      ['x{a="1",b="2"} 1\nx{b="2",a="1"} 1\n', "line 2: series x with the same labels given twice"],
      ["x 1 2 3\n", 'line 1: unexpected text after the value of metric "x"'],
      ["x 1 soon\n", 'line 1: expected integer as timestamp, got "soon"'],
      ['x{a="\\t"} 1\n', "line 1: invalid escape sequence"],
      ["9x 1\n", 'line 1: invalid metric name in "9x 1"'],
    ];
    for (const [text, msg] of bad) expect(() => parsePromText(text)).toThrow(`text format parsing error in ${msg}`);
  });
  test("empty input and comments only give no families", () => {
    expect(parsePromText("")).toEqual([]);
    expect(parsePromText("# just a comment\n# HELP lonely no samples\n")).toEqual([]);
  });
});

describe("renderPromText", () => {
  test("round trip with escapes and special floats", () => {
    const text = '# HELP x a\\\\b\\nc\n# TYPE x gauge\nx{path="C:\\\\dir\\"q\\"\\n"} -Inf\nx{path="b"} NaN\ny 0.25\n';
    const out = renderPromText(parsePromText(text));
    expect(out).toBe(
      '# HELP x a\\\\b\\nc\n# TYPE x gauge\nx{path="C:\\\\dir\\"q\\"\\n"} -Inf\nx{path="b"} NaN\n# HELP y \n# TYPE y untyped\ny 0.25\n',
    );
    expect(renderPromText(parsePromText(out))).toBe(out);
  });
});
