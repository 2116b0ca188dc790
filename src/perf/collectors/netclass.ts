// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// netclass collector: the attributes of every /sys/class/net/<iface> (address, MTU, flags, carrier
// changes, queue length, ...) as node_exporter's netclass collector reads them, plus rx_nohandler.

import { errorMessage } from "../../util/errors.ts";
import type { HostPaths, PointCollector } from "../collector.ts";
import { NETCLASS_FILES, type NetClassFile, type NetClassIface, parseNetClassIface } from "../parsers/netclass.ts";
import { BaseCollector, type CollectorOptions, listClassNet, spec } from "./common.ts";

/**
 * C `sys/class/net` (the listing); O every attribute file (a file the kernel refuses, such as carrier
 * on a down link, is absent from the record). Entries that are regular files (bonding_masters) are
 * skipped. An interface with a malformed value is left out and counted as malformed.
 */
export class NetClassCollector extends BaseCollector implements PointCollector {
  readonly spec = spec("netclass", "Network Class (sysfs) Collector", true, true, "2.6.0");
  constructor(paths: HostPaths, opts: CollectorOptions = {}) {
    super(paths, opts, ["sys"]);
  }
  async collect(signal: AbortSignal): Promise<NetClassIface[]> {
    const dir = `${this.paths.sys}/class/net`;
    const entries = await listClassNet(this.io, this.paths.sys, signal);
    const names = entries
      .filter((e) => !e.isFile())
      .map((e) => e.name)
      .sort();
    const out = await Promise.all(
      names.map(async (name): Promise<NetClassIface | undefined> => {
        // one reader-thread round trip per interface: ~20 tiny attribute files, each a round trip otherwise
        const texts = await this.io.readManyOptional(
          NETCLASS_FILES.map((f) => `${dir}/${name}/${f}`),
          signal,
        );
        const files: Partial<Record<NetClassFile, string>> = {};
        for (const [i, f] of NETCLASS_FILES.entries()) if (texts[i] !== undefined) files[f] = texts[i];
        if (Object.keys(files).length === 0) return undefined; // not an interface directory (or it vanished)
        try {
          return parseNetClassIface(name, files, `${dir}/${name}`);
        } catch (e) {
          this.malformed(1);
          this.opts.logger?.warn({ collector: "netclass", err: errorMessage(e) }, "network interface left out: malformed sysfs attribute");
          return undefined;
        }
      }),
    );
    return out.filter((i): i is NetClassIface => i !== undefined);
  }
}
