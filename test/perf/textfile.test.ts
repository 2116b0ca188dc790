// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The textfile collector over real temp directories: served families, node_textfile_mtime_seconds{file},
// node_textfile_scrape_error and the files left out (malformed, timestamps, clashes, bounds), and the
// collector as an exposition source that changes version only when the text changes.

import { afterAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { registry } from "../../src/metrics/registry.ts";
import { readTextfiles, TextfileCollector } from "../../src/perf/textfile.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function dirWith(files: Record<string, string>): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "textfile-"));
  dirs.push(d);
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(d, name), text);
  return d;
}

const GOOD =
  '# HELP apt_upgrades_pending Apt package pending updates by origin.\n# TYPE apt_upgrades_pending gauge\napt_upgrades_pending{origin="debian"} 3\nreboot_required 0\n';

describe("readTextfiles", () => {
  test("families of *.prom files, mtime per file, scrape_error 0; other files ignored", async () => {
    const d = dirWith({ "apt.prom": GOOD, "notes.txt": "not metrics", "apt.prom.tmp": "garbage{" });
    fs.utimesSync(path.join(d, "apt.prom"), 1700000000, 1700000000);
    const { text, errors } = await readTextfiles(d);
    expect(errors.size).toBe(0);
    expect(text).toContain(
      '# HELP apt_upgrades_pending Apt package pending updates by origin.\n# TYPE apt_upgrades_pending gauge\napt_upgrades_pending{origin="debian"} 3\n',
    );
    expect(text).toContain(`# HELP reboot_required Metric read from ${d}/apt.prom\n# TYPE reboot_required untyped\nreboot_required 0\n`);
    expect(text).toContain(
      `# HELP node_textfile_mtime_seconds Unixtime mtime of textfiles successfully read.\n# TYPE node_textfile_mtime_seconds gauge\nnode_textfile_mtime_seconds{file="${d}/apt.prom"} 1700000000\n`,
    );
    expect(text).toContain(
      "# HELP node_textfile_scrape_error 1 if there was an error opening or reading a file, 0 otherwise\n# TYPE node_textfile_scrape_error gauge\nnode_textfile_scrape_error 0\n",
    );
  });

  test("a malformed file, one with timestamps and one clashing with an earlier file are left out whole", async () => {
    const d = dirWith({
      "a.prom": GOOD,
      "b.prom": "ok_metric 1\nbad metric{\n",
      "c.prom": "stamped 1 1700000000000\n",
      "d.prom": "# TYPE reboot_required counter\nreboot_required 1\n",
      "e.prom": 'apt_upgrades_pending{origin="debian"} 9\n',
      "f.prom": '# TYPE apt_upgrades_pending gauge\napt_upgrades_pending{origin="ubuntu"} 1\n',
    });
    const { text, errors } = await readTextfiles(d);
    expect([...errors.keys()].map((f) => path.basename(f))).toEqual(["b.prom", "c.prom", "d.prom", "e.prom"]);
    expect(errors.get(`${d}/b.prom`)).toBe(
      `failed to parse textfile data from "${d}/b.prom": text format parsing error in line 2: expected float as value, got "metric{"`,
    );
    expect(errors.get(`${d}/c.prom`)).toContain("contains unsupported client-side timestamps");
    expect(text).not.toContain("ok_metric");
    expect(text).not.toContain("stamped");
    expect(text).toContain('apt_upgrades_pending{origin="debian"} 3\napt_upgrades_pending{origin="ubuntu"} 1\n');
    expect(text).toContain("node_textfile_scrape_error 1\n");
    expect(text).not.toContain(`file="${d}/b.prom"`);
    expect(text).toContain(`file="${d}/f.prom"`);
  });

  test("bounds: files beyond the count and bytes beyond the budget are left out and metered", async () => {
    const d = dirWith({ "1.prom": "one 1\n", "2.prom": "two 2\n", "3.prom": "three 3\n" });
    const byCount = await readTextfiles(d, 2);
    expect(byCount.text).toContain("two 2");
    expect(byCount.text).not.toContain("three 3");
    expect(byCount.errors.get(`${d}/3.prom`)).toContain("more than 2 *.prom files");
    const byBytes = await readTextfiles(d, 10, 12);
    expect(byBytes.text).toContain("one 1");
    expect(byBytes.text).toContain("two 2");
    expect(byBytes.errors.get(`${d}/3.prom`)).toContain("would exceed the 12-byte bound");
    const self = await registry.metrics();
    expect(self).toContain('antimetal_queue_dropped_total{queue="textfile_files",reason="too_many_files"}');
    expect(self).toContain('antimetal_queue_dropped_total{queue="textfile_bytes",reason="too_large"}');
    expect(self).toContain('antimetal_queue_capacity{queue="textfile_bytes"} 12');
  });

  test("a missing directory, a FIFO and a directory named *.prom are errors, not hangs", async () => {
    expect((await readTextfiles("/nonexistent/textfiles")).text).toContain("node_textfile_scrape_error 1");
    const d = dirWith({});
    Bun.spawnSync(["mkfifo", path.join(d, "pipe.prom")]);
    fs.mkdirSync(path.join(d, "dir.prom"));
    const { errors } = await readTextfiles(d);
    expect(errors.get(`${d}/pipe.prom`)).toContain("not a regular file");
    expect(errors.get(`${d}/dir.prom`)).toContain("not a regular file");
  });
});

describe("TextfileCollector", () => {
  test("version changes only when the served text changes; stop ends the polling", async () => {
    const d = dirWith({ "a.prom": "x 1\n" });
    const c = new TextfileCollector({ directory: d, intervalMs: 50 });
    await c.start();
    expect(c.isReady()).toBe(true);
    const v0 = c.version;
    expect(await c.render()).toContain("x 1\n");
    await c.refresh();
    expect(c.version).toBe(v0);
    fs.writeFileSync(path.join(d, "a.prom"), "x 2\n");
    await Bun.sleep(200);
    expect(c.version).toBeGreaterThan(v0);
    expect(await c.render()).toContain("x 2\n");
    await c.stop();
    const v1 = c.version;
    fs.writeFileSync(path.join(d, "a.prom"), "x 3\n");
    await Bun.sleep(150);
    expect(c.version).toBe(v1);
  });
});
