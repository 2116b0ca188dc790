// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// node_thermal_zone_temp, node_cooling_device_*, node_bonding_*, node_edac_* and node_md_* from the
// host-hardware collectors (node_exporter's thermal_zone, bonding, edac and mdadm collectors).

import type { FamilyGroup, Sample } from "./family.ts";
import { n } from "./family.ts";

/** node_md_state's states, as node_exporter 1.5 names them, and the activity state each one is 1 for. */
const MD_STATES: [string, string][] = [
  ["active", "active"],
  ["inactive", "inactive"],
  ["recovering", "recovering"],
  ["resync", "resyncing"],
  ["check", "checking"],
];

export const hostHardwareFamilies: FamilyGroup = {
  name: "host_hardware",
  types: ["thermal_zone", "bonding", "edac", "mdstat"],
  define(d, fam) {
    const thermal = () => d.get("thermal_zone");
    fam("node_thermal_zone_temp", "gauge", "Zone temperature in Celsius", () =>
      (thermal()?.zones ?? []).map((z) => ({ labels: { type: z.type, zone: z.zone }, value: z.temp_celsius })),
    );
    fam("node_cooling_device_cur_state", "gauge", "Current throttle state of the cooling device", () =>
      (thermal()?.cooling_devices ?? []).map((c) => ({ labels: { name: c.name, type: c.type }, value: n(c.cur_state) })),
    );
    fam("node_cooling_device_max_state", "gauge", "Maximum throttle state of the cooling device", () =>
      (thermal()?.cooling_devices ?? []).map((c) => ({ labels: { name: c.name, type: c.type }, value: n(c.max_state) })),
    );

    const bonds = () => d.get("bonding") ?? [];
    fam("node_bonding_active", "gauge", "Number of active slaves per bonding interface.", () =>
      bonds().map((b) => ({ labels: { master: b.master }, value: b.active })),
    );
    fam("node_bonding_slaves", "gauge", "Number of configured slaves per bonding interface.", () =>
      bonds().map((b) => ({ labels: { master: b.master }, value: b.slaves })),
    );

    const mcs = () => d.get("edac") ?? [];
    fam("node_edac_correctable_errors_total", "counter", "Total correctable memory errors.", () =>
      mcs().map((m) => ({ labels: { controller: m.controller }, value: n(m.correctable_errors) })),
    );
    fam("node_edac_uncorrectable_errors_total", "counter", "Total uncorrectable memory errors.", () =>
      mcs().map((m) => ({ labels: { controller: m.controller }, value: n(m.uncorrectable_errors) })),
    );
    fam("node_edac_csrow_correctable_errors_total", "counter", "Total correctable memory errors for this csrow.", () =>
      mcs().flatMap((m): Sample[] => [
        { labels: { controller: m.controller, csrow: "unknown" }, value: n(m.noinfo_correctable_errors) },
        ...m.csrows.map((c) => ({ labels: { controller: m.controller, csrow: c.csrow }, value: n(c.correctable_errors) })),
      ]),
    );
    fam("node_edac_csrow_uncorrectable_errors_total", "counter", "Total uncorrectable memory errors for this csrow.", () =>
      mcs().flatMap((m): Sample[] => [
        { labels: { controller: m.controller, csrow: "unknown" }, value: n(m.noinfo_uncorrectable_errors) },
        ...m.csrows.map((c) => ({ labels: { controller: m.controller, csrow: c.csrow }, value: n(c.uncorrectable_errors) })),
      ]),
    );

    const md = () => d.get("mdstat") ?? [];
    fam("node_md_blocks", "gauge", "Total number of blocks on device.", () =>
      md().map((m) => ({ labels: { device: m.name }, value: m.blocks_total })),
    );
    fam("node_md_blocks_synced", "gauge", "Number of blocks synced on device.", () =>
      md().map((m) => ({ labels: { device: m.name }, value: m.blocks_synced })),
    );
    fam("node_md_disks", "gauge", "Number of active/failed/spare disks of device.", () =>
      md().flatMap((m) => [
        { labels: { device: m.name, state: "active" }, value: m.disks_active },
        { labels: { device: m.name, state: "failed" }, value: m.disks_failed },
        { labels: { device: m.name, state: "spare" }, value: m.disks_spare },
      ]),
    );
    fam("node_md_disks_required", "gauge", "Total number of disks of device.", () =>
      md().map((m) => ({ labels: { device: m.name }, value: m.disks_total })),
    );
    fam("node_md_state", "gauge", "Indicates the state of md-device.", () =>
      md().flatMap((m) =>
        MD_STATES.map(([state, activity]) => ({ labels: { device: m.name, state }, value: m.activity_state === activity ? 1 : 0 })),
      ),
    );
  },
};
