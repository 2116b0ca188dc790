// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * OOM kills from the kernel: loads ebpf/src/oomkill.bpf.c (tracepoint oom:mark_victim), reads its
 * ring buffer in a Worker that waits on the ring's wakeup (not on the main thread's timer, as
 * procexit does: the victim's /proc/<pid>/cgroup must be read before it is reaped), and for each
 * kill reads the victim's cgroup path (/proc/<pid>/cgroup, while the task is still being killed),
 * asks an injected resolver for its Pod, logs one warn line and counts it in
 * antimetal_oom_kills_total{namespace,pod} (bounded: at most 500 label sets, the rest under
 * pod="other").
 */

import { readFileSync } from "node:fs";
import { Counter, type Registry } from "prom-client";
import { clockNs, type LibbpfSource, loadLibbpf } from "../../ffi/loader.ts";
import type { Logger } from "../log/logger.ts";
import { registry as sharedRegistry } from "../metrics/registry.ts";
import { errorMessage } from "../util/errors.ts";
import { type EbpfAssets, ebpfAssets } from "./assets.ts";
import { decodeOomkillEvent, OOMKILL_EVENT_SIZE } from "./gen/oomkill_types.ts";
import { BpfObject } from "./object.ts";
import { Tracer } from "./tracer-attach.ts";

export interface OomKill {
  time: string;
  victimPid: number;
  comm: string;
  /** The victim's cgroup (unified "0::" path, else the v1 memory controller's), "" if it was gone. */
  cgroup: string;
  triggerPid: number;
  triggerComm: string;
  triggerCgroupId: bigint;
  totalVmKb: bigint;
  anonRssKb: bigint;
  fileRssKb: bigint;
  shmemRssKb: bigint;
  /** Directory inode of the triggering task's memory cgroup (v1 or v2), 0n without memcg. */
  memcgId: bigint;
  uid: number;
  oomScoreAdj: number;
  pod?: { uid: string; namespace?: string; name?: string };
}

export interface OomkillOptions {
  logger?: Logger;
  /** Pod of a process (pid, cgroup id of the triggering task, cgroup path found); the netgraph's resolver + index. */
  resolvePod?: (pid: number, cgroupId: bigint, cgroupPath: string) => OomKill["pod"];
  /** Path of a cgroup by its id (directory inode), for a victim already gone from /proc. */
  cgroupPathOfId?: (id: bigint) => string | undefined;
  onKill?: (kill: OomKill) => void;
  registry?: Registry;
  procRoot?: string;
  libbpfSource?: LibbpfSource;
  assets?: EbpfAssets;
}

const MAX_POD_SERIES = 500;

/** The cgroup path a /proc/<pid>/cgroup text names: the unified line, else the memory controller's. */
export function cgroupPathOf(text: string): string {
  const lines = text.split("\n");
  const mem = lines.find((l) => /^\d+:([^:]*,)?memory(,[^:]*)?:/.test(l));
  const unified = lines.find((l) => l.startsWith("0::"));
  const pick = unified && unified !== "0::/" ? unified : (mem ?? unified ?? "");
  return pick.slice(pick.indexOf(":", pick.indexOf(":") + 1) + 1);
}

const counters = new WeakMap<Registry, Counter<"namespace" | "pod">>();

function oomCounter(registry: Registry): Counter<"namespace" | "pod"> {
  let c = counters.get(registry);
  if (!c) {
    c = new Counter({
      name: "antimetal_oom_kills_total",
      help: 'Processes killed by the kernel OOM killer, by Pod (namespace="", pod="" outside Pods; pod="other" past 500 Pods).',
      labelNames: ["namespace", "pod"] as const,
      registers: [registry],
    });
    c.inc({ namespace: "", pod: "" }, 0);
    counters.set(registry, c);
  }
  return c;
}

export class OomkillCollector {
  private readonly tracer = new Tracer();
  private readonly counter: Counter<"namespace" | "pod">;
  private readonly series = new Set<string>();
  private monoToRealNs = clockNs(0) - clockNs(1);
  kills = 0;

  constructor(private readonly opts: OomkillOptions = {}) {
    this.counter = oomCounter(opts.registry ?? sharedRegistry);
  }

  async start(): Promise<void> {
    const assets = this.opts.assets ?? ebpfAssets();
    const objPath = assets.objects.oomkill;
    if (!objPath) throw new Error("oomkill.bpf.o is not available (run scripts/build-ebpf.sh)");
    const libbpf = loadLibbpf({ source: this.opts.libbpfSource, embedded: assets.libs });
    const obj = this.tracer.hold(BpfObject.openFile(libbpf, objPath, "oomkill"));
    try {
      obj.load();
      await this.tracer.attach({
        name: "oomkill",
        libbpf,
        programs: ["tracepoint__oom__mark_victim"],
        maxInflightBatches: 8,
        onRecord: (view, off, len) => this.ingest(view, off, len),
        onError: (err) => this.opts.logger?.error({ err: err.message }, "oomkill ring buffer reader error"),
      });
    } catch (e) {
      await this.stop();
      throw e;
    }
    this.opts.logger?.info("oomkill attached");
  }

  private ingest(view: DataView, off: number, len: number): void {
    if (len < OOMKILL_EVENT_SIZE) {
      this.opts.logger?.error({ len }, "oomkill record rejected: truncated");
      return;
    }
    const e = decodeOomkillEvent(view, off);
    let cgroup = "";
    let comm = e.comm;
    try {
      cgroup = cgroupPathOf(readFileSync(`${this.opts.procRoot ?? "/proc"}/${e.victimPid}/cgroup`, "utf8"));
      if (!comm) comm = readFileSync(`${this.opts.procRoot ?? "/proc"}/${e.victimPid}/comm`, "utf8").trim();
    } catch (err) {
      // ENOENT: the victim was reaped before we looked; the record still names pid and trigger
      if ((err as NodeJS.ErrnoException).code !== "ENOENT")
        this.opts.logger?.warn({ err: errorMessage(err) }, "oomkill: cannot read the victim's cgroup");
    }
    // The victim may be gone (or already moved out of its cgroup) by now: its memory cgroup, by id, is still there.
    if ((cgroup === "" || cgroup === "/") && e.memcgId > 1n) {
      try {
        cgroup = this.opts.cgroupPathOfId?.(e.memcgId) ?? cgroup;
      } catch (err) {
        this.opts.logger?.warn({ err: errorMessage(err) }, "oomkill: cannot look the memory cgroup up by id");
      }
    }
    let pod: OomKill["pod"];
    try {
      pod = this.opts.resolvePod?.(e.victimPid, e.triggerPid === e.victimPid ? e.triggerCgroupId : 0n, cgroup);
    } catch (err) {
      this.opts.logger?.warn({ err: errorMessage(err) }, "oomkill: pod attribution failed");
    }
    const kill: OomKill = {
      time: new Date(Number((e.tsNs + this.monoToRealNs) / 1_000_000n)).toISOString(),
      victimPid: e.victimPid,
      comm,
      cgroup,
      triggerPid: e.triggerPid,
      triggerComm: e.triggerComm,
      triggerCgroupId: e.triggerCgroupId,
      totalVmKb: e.totalVmKb,
      anonRssKb: e.anonRssKb,
      fileRssKb: e.fileRssKb,
      shmemRssKb: e.shmemRssKb,
      memcgId: e.memcgId,
      uid: e.uid,
      oomScoreAdj: e.oomScoreAdj,
      ...(pod ? { pod } : {}),
    };
    this.kills++;
    let labels = { namespace: pod?.namespace ?? "", pod: pod ? (pod.name ?? pod.uid) : "" };
    const k = `${labels.namespace}/${labels.pod}`;
    if (!this.series.has(k)) {
      if (this.series.size >= MAX_POD_SERIES) labels = { namespace: "other", pod: "other" };
      else this.series.add(k);
    }
    this.counter.inc(labels);
    this.opts.logger?.warn(
      {
        pid: kill.victimPid,
        comm: kill.comm,
        cgroup: kill.cgroup,
        pod_uid: pod?.uid,
        namespace: pod?.namespace,
        pod: pod?.name,
        anon_rss_kb: String(kill.anonRssKb),
        total_vm_kb: String(kill.totalVmKb),
        trigger_pid: kill.triggerPid,
      },
      "OOM kill",
    );
    this.opts.onKill?.(kill);
  }

  async stop(): Promise<void> {
    await this.tracer.teardown();
  }
}
