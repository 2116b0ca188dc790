// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Which mappings the startup-page release touches (a /proc/<pid>/maps fixture), that it runs once when
// startInBackground's `after` holds (as run.ts starts it), and that it reports without failing the
// agent where the kernel cannot do it.

import { expect, test } from "bun:test";
import { silentLogger } from "../log/logger.ts";
import { startInBackground } from "./background.ts";
import { ReleaseUnsupportedError, releasableMappings, startupPagesComponent } from "./startup-pages.ts";

const EXE = "/usr/local/bin/antimetal-agent";
const MAPS = `00200000-01a38000 r--p 00000000 fe:00 5311001                            ${EXE}
01a40000-06836000 r-xp 01838000 fe:00 5311001                            ${EXE}
06836000-0684a000 rw-p 0662d000 fe:00 5311001                            ${EXE}
0684a000-06852000 r--p 06641000 fe:00 5311001                            ${EXE}
06852000-0755a000 rw-p 06649000 fe:00 5311001                            ${EXE}
0755a000-0a000000 rw-p 00000000 00:00 0                                  [heap]
7f0000000000-7f0000100000 r--s 00000000 fe:00 77                         /var/lib/antimetal/resource/store.db-shm
7f0000100000-7f0000200000 r--p 00000000 fe:00 78                         /var/lib/antimetal/resource/store.db
7f1000000000-7f1000028000 r--p 00000000 fe:00 1001                       /usr/lib/x86_64-linux-gnu/libc.so.6
7f1000028000-7f10001bd000 r-xp 00028000 fe:00 1001                       /usr/lib/x86_64-linux-gnu/libc.so.6
7f10001bd000-7f1000215000 r--p 001bd000 fe:00 1001                       /usr/lib/x86_64-linux-gnu/libc.so.6
7f1000215000-7f1000219000 rw-p 00214000 fe:00 1001                       /usr/lib/x86_64-linux-gnu/libc.so.6
7f2000000000-7f2000010000 r-xp 00000000 fe:00 1002                       /usr/lib/x86_64-linux-gnu/libbpf.so.1.1.0
7f3000000000-7f3000001000 r-xp 00000000 fe:00 1003                       /opt/odd dir/libx.so (deleted)
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
`;

test("only the executable's and shared libraries' read-only private mappings are released", () => {
  const got = releasableMappings(MAPS, EXE);
  expect(got.map((m) => [m.start.toString(16), m.length, m.path])).toEqual([
    ["200000", 0x1a38000 - 0x200000, EXE],
    ["1a40000", 0x6836000 - 0x1a40000, EXE],
    ["684a000", 0x8000, EXE],
    ["7f1000000000", 0x28000, "/usr/lib/x86_64-linux-gnu/libc.so.6"],
    ["7f1000028000", 0x195000, "/usr/lib/x86_64-linux-gnu/libc.so.6"],
    ["7f10001bd000", 0x58000, "/usr/lib/x86_64-linux-gnu/libc.so.6"],
    ["7f2000000000", 0x10000, "/usr/lib/x86_64-linux-gnu/libbpf.so.1.1.0"],
  ]);
  // another executable path: only the libraries
  expect(releasableMappings(MAPS, "/bin/other").every((m) => m.path.includes(".so"))).toBe(true);
  expect(releasableMappings("garbage\n\n", EXE)).toEqual([]);
});

const fixedRelease = () => ({ mappings: 3, residentBefore: 40 << 20, residentAfter: 26 << 20 });

test("the component releases once, when startup is over, and again never", async () => {
  let over = false;
  let calls = 0;
  const c = startupPagesComponent({
    logger: silentLogger,
    release: () => {
      calls++;
      return fixedRelease();
    },
  });
  const bg = startInBackground(c, silentLogger, { after: () => over });
  await bg.start();
  await Bun.sleep(50);
  expect(calls).toBe(0);
  over = true;
  await Bun.sleep(50);
  expect(calls).toBe(1);
  await Bun.sleep(50);
  expect(calls).toBe(1);
  expect(c.released()).toEqual(fixedRelease());
  await bg.stop(AbortSignal.timeout(100));
});

test("released after maxWaitMs when startup never ends; a kernel without MADV_PAGEOUT is logged, not fatal", async () => {
  const logged: string[] = [];
  const logger = { ...silentLogger, info: (_: unknown, msg: string) => logged.push(msg) } as unknown as typeof silentLogger;
  const c = startupPagesComponent({
    logger,
    release: () => {
      throw new ReleaseUnsupportedError("the kernel has no MADV_PAGEOUT (Linux 5.4 or later)");
    },
  });
  const bg = startInBackground(c, silentLogger, { after: () => false, maxWaitMs: 30 });
  await bg.start();
  await Bun.sleep(100);
  expect(logged).toEqual(["startup pages kept"]);
  expect(c.released()).toBeUndefined();
  await bg.stop(AbortSignal.timeout(100));
});

test("a stop before startup is over releases nothing", async () => {
  let calls = 0;
  const c = startupPagesComponent({
    logger: silentLogger,
    release: () => {
      calls++;
      return fixedRelease();
    },
  });
  const bg = startInBackground(c, silentLogger, { after: () => false });
  await bg.start();
  await bg.stop(AbortSignal.timeout(100));
  await Bun.sleep(100);
  expect(calls).toBe(0);
});
