// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The fs config loader on real files in a temp directory: create, change, invalid, delete, rename,
// a burst of writes, a directory that appears later, and a ConfigMap-style symlink swap.

import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toJson } from "@bufbuild/protobuf";
import { stringify as toYaml } from "yaml";
import { FsConfigLoader } from "../../src/config/objects/fs-loader.ts";
import { hostStatsObject } from "../../src/config/objects/parse.ts";
import { registry } from "../../src/metrics/registry.ts";
import { ObjectSchema } from "../../src/proto/gen/antimetal/types/v1/object_pb.ts";
import { capturedLogger, waitUntil } from "./helpers.ts";

const KNOWN = new Set(["cpu", "memory", "load", "disk"]);
const status = (c: string) => (KNOWN.has(c) ? { available: true, reason: "available" } : { available: false, reason: "not found" });

let dir: string;
let loader: FsConfigLoader | undefined;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "cfg-fs-"));
});
afterEach(async () => {
  await loader?.stop();
  loader = undefined;
  rmSync(dir, { recursive: true, force: true });
});

const objectJson = (name: string, collector: string, seconds: number, version = "") =>
  toJson(ObjectSchema, hostStatsObject(name, collector, seconds, version)) as Record<string, unknown>;
const writeJson = (file: string, name: string, collector: string, seconds: number, version = "") =>
  writeFileSync(join(dir, file), JSON.stringify(objectJson(name, collector, seconds, version)));
const active = () =>
  Object.fromEntries(
    loader!.active().map((i) => [i.name, `${i.config!.collector}@${i.config!.intervalSeconds}s${i.version ? " " + i.version : ""}`]),
  );

async function start(rescanIntervalMs = 60_000, directory = dir) {
  const log = capturedLogger();
  loader = new FsConfigLoader({ directory, rescanIntervalMs, collectorStatus: status, logger: log.logger });
  let changes = 0;
  loader.onChange(() => changes++);
  await loader.start();
  return { log, changes: () => changes };
}

test("existing JSON, YAML, .yml, upper-case and nested files load; other files are ignored", async () => {
  writeJson("a.json", "a", "cpu", 5, "v1");
  writeFileSync(join(dir, "b.yaml"), toYaml(objectJson("b", "memory", 10)));
  mkdirSync(join(dir, "sub"));
  writeFileSync(join(dir, "sub/C.YML"), toYaml(objectJson("c", "load", 1)));
  writeFileSync(join(dir, "notes.txt"), "not a config");
  writeFileSync(join(dir, "README"), "{}");
  await start();
  expect(active()).toEqual({ a: "cpu@5s v1", b: "memory@10s", c: "load@1s" });
});

test("create and change are seen through inotify, without waiting for the rescan", async () => {
  const { changes } = await start(60_000);
  writeJson("a.json", "a", "cpu", 5);
  await waitUntil("a in force", () => active().a === "cpu@5s");
  writeJson("a.json", "a", "cpu", 2);
  await waitUntil("a changed", () => active().a === "cpu@2s");
  expect(changes()).toBe(2);
});

test("an invalid file is reported (log, counter, ConfigError reason) and the last good config stays", async () => {
  writeJson("a.json", "a", "cpu", 5);
  const { log } = await start();
  writeFileSync(join(dir, "a.json"), '{"name": "a", "type": {"type": "antimetal.agent.v1.HostStatsCollectionConfig"}, "bogus": 1}');
  await waitUntil("refusal logged", () => log.text().includes("config object refused"));
  expect(active()).toEqual({ a: "cpu@5s" });
  const refused = loader!.view().objects.find((o) => o.status === "invalid")!;
  expect(refused.source).toBe(join(dir, "a.json"));
  expect(refused.error).toContain("failed to unmarshal config file");
  expect(await registry.metrics()).toMatch(/antimetal_config_object_errors_total\{loader="fs"\} [1-9]/);
  // unknown collector, named as the original names it
  writeJson("a.json", "a", "gpu", 5);
  await waitUntil("unknown collector refused", () =>
    loader!.view().objects.some((o) => o.error === "failed to parse config: collector gpu is not available: not found"),
  );
  expect(loader!.view().objects.find((o) => o.status === "invalid")!.configError).toEqual({
    configRef: { type: { type: "antimetal.agent.v1.HostStatsCollectionConfig" }, name: "a" },
    reason: "failed to parse config: collector gpu is not available: not found",
  });
  expect(active()).toEqual({ a: "cpu@5s" });
  // an empty file
  writeFileSync(join(dir, "a.json"), "");
  await waitUntil("empty refused", () => loader!.view().objects.some((o) => o.error === "config file is empty"));
  expect(active()).toEqual({ a: "cpu@5s" });
  // fixed again
  writeJson("a.json", "a", "cpu", 7);
  await waitUntil("fixed", () => active().a === "cpu@7s");
  expect(loader!.view().objects.filter((o) => o.status === "invalid")).toEqual([]);
});

test("versions compare as integers after one leading v: an older version is refused, an equal one applies", async () => {
  writeJson("a.json", "a", "cpu", 5, "v2");
  await start();
  writeJson("a.json", "a", "cpu", 9, "v1");
  await waitUntil("older refused", () =>
    loader!.view().objects.some((o) => o.error === "version v1 is less than the currently stored version v2"),
  );
  expect(active()).toEqual({ a: "cpu@5s v2" });
  writeJson("a.json", "a", "cpu", 3, "2");
  await waitUntil("equal version applied", () => active().a === "cpu@3s 2");
  writeJson("a.json", "a", "cpu", 3, "1.2");
  await waitUntil("bad version refused", () => loader!.view().objects.some((o) => o.error === "could not parse version 1.2"));
  expect(active().a).toBe("cpu@3s 2");
});

test("delete expires the config; rename keeps it in force under the new path", async () => {
  writeJson("a.json", "a", "cpu", 5);
  writeJson("b.json", "b", "memory", 5);
  const { changes } = await start();
  expect(changes()).toBe(1); // the initial load
  renameSync(join(dir, "a.json"), join(dir, "moved.json"));
  await waitUntil("rename seen", () => loader!.active().some((i) => i.source === join(dir, "moved.json")));
  expect(active()).toEqual({ a: "cpu@5s", b: "memory@5s" });
  expect(changes()).toBe(1); // same objects in force: collectors are not touched
  unlinkSync(join(dir, "b.json"));
  await waitUntil("delete seen", () => active().b === undefined);
  expect(active()).toEqual({ a: "cpu@5s" });
  // a config file renamed to a non-config name is gone as well (the original kept it)
  renameSync(join(dir, "moved.json"), join(dir, "moved.json.bak"));
  await waitUntil("renamed away", () => loader!.active().length === 0);
});

test("a burst of 200 writes ends in the last content, read a handful of times", async () => {
  await start();
  const scansBefore = loader!.view().state.scans as number;
  for (let i = 1; i <= 200; i++) writeJson("a.json", "a", "cpu", i);
  await waitUntil("last write in force", () => active().a === "cpu@200s");
  await Bun.sleep(200);
  expect(active()).toEqual({ a: "cpu@200s" });
  expect((loader!.view().state.scans as number) - scansBefore).toBeLessThan(20);
});

test("a directory created after start is found by the periodic rescan, then watched", async () => {
  const later = join(dir, "later");
  await start(200, later);
  expect(loader!.view().state.watching).toBe(false);
  mkdirSync(later);
  writeFileSync(join(later, "a.json"), JSON.stringify(objectJson("a", "cpu", 4)));
  await waitUntil("rescan found it", () => active().a === "cpu@4s", 3000);
  expect(loader!.view().state.watching).toBe(true);
  // removed and created again: the objects go, then come back through a new watch
  rmSync(later, { recursive: true });
  await waitUntil("directory gone", () => loader!.active().length === 0, 3000);
  mkdirSync(later);
  writeFileSync(join(later, "b.json"), JSON.stringify(objectJson("b", "memory", 6)));
  await waitUntil("directory back", () => active().b === "memory@6s", 3000);
  await waitUntil("watched again", () => loader!.view().state.watching === true, 3000);
  writeFileSync(join(later, "b.json"), JSON.stringify(objectJson("b", "memory", 7)));
  await waitUntil("change seen", () => active().b === "memory@7s", 3000);
});

test("a file written while the loader reads the directory (another process's write at start) is seen through the watch", async () => {
  // The write lands after the listing and before the first read is done: only a watch already in place sees it
  // (the periodic rescan is a minute away).
  writeJson("a.json", "a", "cpu", 5);
  let wrote = false;
  const during = (c: string) => {
    if (!wrote) {
      wrote = true;
      writeJson("b.json", "b", "memory", 7);
    }
    return status(c);
  };
  loader = new FsConfigLoader({ directory: dir, rescanIntervalMs: 60_000, collectorStatus: during, logger: capturedLogger().logger });
  await loader.start();
  expect(wrote).toBe(true);
  await waitUntil("b in force", () => active().b === "memory@7s", 3000);
  expect(active()).toEqual({ a: "cpu@5s", b: "memory@7s" });
});

test("a directory created after start: a file written while the rescan reads it is seen through the watch", async () => {
  const later = join(dir, "later");
  let wrote = false;
  const during = (c: string) => {
    if (!wrote) {
      wrote = true;
      writeFileSync(join(later, "b.json"), JSON.stringify(objectJson("b", "memory", 7)));
    }
    return status(c);
  };
  loader = new FsConfigLoader({ directory: later, rescanIntervalMs: 60_000, collectorStatus: during, logger: capturedLogger().logger });
  await loader.start();
  expect(loader.view().state.watching).toBe(false);
  mkdirSync(later);
  writeFileSync(join(later, "a.json"), JSON.stringify(objectJson("a", "cpu", 4)));
  loader.scan(); // the periodic rescan, a minute early
  expect(active()).toEqual({ a: "cpu@4s" });
  expect(wrote).toBe(true);
  await waitUntil("b in force", () => active().b === "memory@7s", 3000);
});

test("a Kubernetes ConfigMap update (..data symlink swap) switches to the new content", async () => {
  const v1 = join(dir, "..2026_01_01");
  mkdirSync(v1);
  writeFileSync(join(v1, "a.json"), JSON.stringify(objectJson("a", "cpu", 5)));
  symlinkSync("..2026_01_01", join(dir, "..data"));
  symlinkSync("..data/a.json", join(dir, "a.json"));
  await start();
  expect(active()).toEqual({ a: "cpu@5s" });
  const v2 = join(dir, "..2026_01_02");
  mkdirSync(v2);
  writeFileSync(join(v2, "a.json"), JSON.stringify(objectJson("a", "cpu", 8)));
  symlinkSync("..2026_01_02", join(dir, "..data_tmp"));
  renameSync(join(dir, "..data_tmp"), join(dir, "..data"));
  rmSync(v1, { recursive: true });
  await waitUntil("swap seen", () => active().a === "cpu@8s");
});
