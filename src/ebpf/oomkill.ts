// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * OOM kills from the kernel: loads ebpf/src/oomkill.bpf.c (tracepoint oom:mark_victim, and the
 * victim's sched_process_exit for its cgroup ids), reads its ring buffer on the main thread's timer
 * (src/ebpf/ringbuf-inline.ts, as procexit's: no reader thread), and for each kill names the victim's
 * cgroup: /proc/<pid>/cgroup while the victim is still there, else the path of the victim's own
 * cgroup ids that the record carries (read in the victim's context, so they name its cgroup after it
 * is reaped), else the triggering task's memory cgroup. Asks an injected resolver for its Pod, logs
 * one warn line and counts it in antimetal_oom_kills_total{namespace,pod} (bounded: at most 500
 * label sets, the rest under pod="other").
 */

import { readFileSync } from "node:fs";
import { Counter, type Registry } from "prom-client";
import { clockNs, type LibbpfSource, loadLibbpf } from "../../ffi/loader.ts";
import type { Logger } from "../log/logger.ts";
import { registry as sharedRegistry } from "../metrics/registry.ts";
import { errorMessage } from "../util/errors.ts";
import { type EbpfAssets, ebpfAssets } from "./assets.ts";
import { RecordError } from "./execsnoop-decode.ts";
import { decodeOomkillEvent, OOMKILL_EVENT_SIZE, type OomkillEvent } from "./gen/oomkill_types.ts";
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
  /** The victim's cgroup v2 id (1n: the v2 root, as on a v1-only host; 0n: not known, see oomkill_types.h). */
  victimCgroupId: bigint;
  /** Directory inode of the victim's memory cgroup (v1 or v2), 0n when not known. */
  victimMemcgId: bigint;
  uid: number;
  oomScoreAdj: number;
  pod?: { uid: string; namespace?: string; name?: string };
}

export interface OomkillOptions {
  logger?: Logger;
  /** Pod of a process (pid, cgroup id of the triggering task, cgroup path found); the netgraph's resolver + index. */
  resolvePod?: (pid: number, cgroupId: bigint, cgroupPath: string) => OomKill["pod"];
  /** Path of a cgroup by its id (directory inode) in the unified or the memory hierarchy, for a victim already gone from /proc. */
  cgroupPathOfId?: (id: bigint, hierarchy: "unified" | "memory") => string | undefined;
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

/** One ring-buffer record as struct oomkill_event; a shorter one (an older object, a cut record) throws RecordError "truncated". */
export function parseOomkillRecord(view: DataView, off: number, len: number): OomkillEvent {
  if (len < OOMKILL_EVENT_SIZE) throw new RecordError("truncated", `oomkill record of ${len} bytes, expected ${OOMKILL_EVENT_SIZE}`);
  return decodeOomkillEvent(view, off);
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
        // the exit program first: a kill marked before it was attached would wait for an exit never seen
        programs: ["tracepoint__sched__sched_process_exit", "tracepoint__oom__mark_victim"],
        inline: true,
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
    let e: OomkillEvent;
    try {
      e = parseOomkillRecord(view, off, len);
    } catch (err) {
      if (!(err instanceof RecordError)) throw err;
      this.opts.logger?.error({ len, reason: err.reason, err: err.message }, "oomkill record rejected");
      return;
    }
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
    // The victim may be gone (or already moved out of its cgroup) by now: its cgroups, by id, are
    // still there (or were, for the runtime graph, which knows its containers' ids).
    if (cgroup === "" || cgroup === "/") cgroup = this.pathOfIds(e) ?? cgroup;
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
      victimCgroupId: e.victimCgroupId,
      victimMemcgId: e.victimMemcgId,
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
        victim_cgroup_id: String(kill.victimCgroupId),
        victim_memcg_id: String(kill.victimMemcgId),
      },
      "OOM kill",
    );
    this.opts.onKill?.(kill);
  }

  /** The victim's cgroup path from its ids (v2 first, then its memory cgroup), else the triggering task's memory cgroup. */
  private pathOfIds(e: { victimCgroupId: bigint; victimMemcgId: bigint; memcgId: bigint }): string | undefined {
    const lookup = this.opts.cgroupPathOfId;
    if (!lookup) return undefined;
    const tries: [bigint, "unified" | "memory"][] = [
      [e.victimCgroupId, "unified"],
      [e.victimMemcgId, "memory"],
      [e.memcgId, "memory"],
    ];
    for (const [id, hierarchy] of tries) {
      if (id <= 1n) continue;
      try {
        const path = lookup(id, hierarchy);
        if (path && path !== "/") return path;
      } catch (err) {
        this.opts.logger?.warn({ err: errorMessage(err), hierarchy }, "oomkill: cannot look a cgroup up by id");
      }
    }
    return undefined;
  }

  async stop(): Promise<void> {
    await this.tracer.teardown();
  }
}
