// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * The tracers' shared lifecycle (src/ebpf/tracer-attach.ts#Tracer) on the real kernel, with the
 * procexit object: attach, records (read by the reader Worker and on the main thread), the lost poll on its timer, the teardown order, and that a
 * failed attach leaves no program or link behind.
 */

import { describe, expect, test } from "bun:test";
import { loadLibbpf } from "../../ffi/loader.ts";
import { ebpfAssets } from "../../src/ebpf/assets.ts";
import { PROCEXIT_PROGRAMS } from "../../src/ebpf/index.ts";
import { BpfObject } from "../../src/ebpf/object.ts";
import { Tracer } from "../../src/ebpf/tracer-attach.ts";

function bpftoolJson(what: "prog" | "link"): Array<Record<string, unknown>> {
  const r = Bun.spawnSync(["bpftool", "-j", what, "show"]);
  if (r.exitCode !== 0) throw new Error(`bpftool ${what} show failed: ${r.stderr.toString()}`);
  const text = r.stdout.toString().trim();
  return text ? JSON.parse(text) : [];
}

function openProcexit(): { libbpf: ReturnType<typeof loadLibbpf>; obj: BpfObject } {
  const assets = ebpfAssets();
  const path = assets.objects.procexit;
  if (!path) throw new Error("procexit.bpf.o is not built (make -C ebpf)");
  const libbpf = loadLibbpf({ embedded: assets.libs });
  return { libbpf, obj: BpfObject.openFile(libbpf, path, "procexit") };
}

describe("Tracer (shared tracer lifecycle) on the real kernel", () => {
  for (const inline of [false, true])
    test(`attaches, reads records (${inline ? "on the main thread's timer" : "in the reader Worker"}), polls lost on its timer, and tears down in order (flush, last lost poll, close)`, async () => {
      expect(process.getuid?.()).toBe(0); // CI runs as root; without it this must fail, not skip
      const calls: string[] = [];
      const tracer = new Tracer({ pollLost: () => calls.push("lost"), lostPollMs: 50, flush: () => calls.push("flush") });
      const { libbpf, obj } = openProcexit();
      tracer.hold(obj).load();
      let records = 0;
      let beforeRead = 0;
      const ids = await tracer.attach({
        name: "tracer_test",
        libbpf,
        programs: PROCEXIT_PROGRAMS,
        pollIntervalMs: 10,
        inline,
        onRecord: () => {
          records++;
        },
        beforeRead: () => {
          beforeRead++;
        },
      });
      try {
        expect(beforeRead).toBe(1);
        expect(ids).toHaveLength(2);
        expect(tracer.programIds()).toEqual(ids);
        const links = bpftoolJson("link");
        for (const id of ids) expect(links.some((l) => l.prog_id === id)).toBe(true);
        for (let i = 0; i < 5; i++) Bun.spawnSync(["true"]);
        const deadline = Date.now() + 5000;
        while ((records < 5 || calls.length < 2) && Date.now() < deadline) await Bun.sleep(20);
        expect(records).toBeGreaterThanOrEqual(5);
        expect(calls.length).toBeGreaterThanOrEqual(2);
        expect(new Set(calls)).toEqual(new Set(["lost"]));
      } finally {
        calls.length = 0;
        await tracer.teardown();
      }
      expect(calls).toEqual(["flush", "lost"]);
      expect(tracer.programIds()).toEqual([]);
      const progs = bpftoolJson("prog");
      for (const id of ids) expect(progs.some((p) => p.id === id)).toBe(false);
      await Bun.sleep(120);
      expect(calls).toEqual(["flush", "lost"]); // the timer is gone
      await tracer.teardown(); // a second teardown is harmless
      expect(calls).toEqual(["flush", "lost", "flush"]);
    });

  test("a failed attach (a program the object lacks) leaves no program or link behind", async () => {
    const calls: string[] = [];
    const tracer = new Tracer({ pollLost: () => calls.push("lost"), flush: () => calls.push("flush") });
    const { libbpf, obj } = openProcexit();
    tracer.hold(obj).load();
    const firstId = obj.programId(PROCEXIT_PROGRAMS[0]);
    expect(bpftoolJson("prog").some((p) => p.id === firstId)).toBe(true);
    await expect(
      tracer.attach({ name: "tracer_test", libbpf, programs: [PROCEXIT_PROGRAMS[0], "no_such_program"], onRecord: () => undefined }),
    ).rejects.toThrow(/no_such_program/);
    await tracer.teardown();
    expect(calls).toEqual(["flush", "lost"]);
    expect(bpftoolJson("prog").some((p) => p.id === firstId)).toBe(false);
    expect(bpftoolJson("link").some((l) => l.prog_id === firstId)).toBe(false);
  });

  test("attach without a held object fails", async () => {
    const { libbpf, obj } = openProcexit();
    try {
      await expect(new Tracer().attach({ name: "tracer_test", libbpf, programs: [], onRecord: () => undefined })).rejects.toThrow(
        /no object held/,
      );
    } finally {
      obj.close();
    }
  });
});
