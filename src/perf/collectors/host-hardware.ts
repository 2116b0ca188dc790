// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Collectors of the host-dependent node_exporter families: thermal_zone (/sys/class/thermal), bonding
// (/sys/class/net/bonding_masters), edac (/sys/devices/system/edac/mc) and mdstat (/proc/mdstat). A host
// without the files yields empty data, and nothing is served.

import { errorMessage } from "../../util/errors.ts";
import type { HostPaths, PointCollector } from "../collector.ts";
import { errCode } from "../io.ts";
import { type MDStat, parseMdstat } from "../parsers/mdstat.ts";
import { numberedName, parseSysfsI64, parseSysfsString, parseSysfsUnsigned, parseSysfsWords } from "../parsers/sysfs-class.ts";
import { BaseCollector, type CollectorOptions, spec } from "./common.ts";

/** Errors of a sysfs attribute that the kernel refuses for this device (ENODATA from a sensor that is off). */
const UNREADABLE_ATTRIBUTE = new Set(["ENODATA", "EINVAL", "EIO", "EAGAIN", "ENOENT", "EACCES", "EPERM", "ENXIO", "ENODEV", "EOPNOTSUPP"]);

const byNumber = (a: string, b: string) => Number(a) - Number(b);

export interface ThermalZone {
  /** N of thermal_zoneN. */
  zone: string;
  type: string;
  temp_celsius: number;
}

export interface CoolingDevice {
  /** N of cooling_deviceN. */
  name: string;
  type: string;
  cur_state: bigint;
  max_state: bigint;
}

/** JSON of the thermal_zone metric type. */
export interface ThermalStats {
  zones: ThermalZone[];
  cooling_devices: CoolingDevice[];
}

/** /sys/class/thermal: zones and cooling devices; one whose attributes the kernel refuses (ENODATA) is skipped, as procfs does. */
export class ThermalZoneCollector extends BaseCollector implements PointCollector {
  readonly spec = spec("thermal_zone", "Thermal Zone Collector", true, true, "2.6.0");
  constructor(paths: HostPaths, opts: CollectorOptions = {}) {
    super(paths, opts, ["sys"]);
  }
  async collect(signal: AbortSignal): Promise<ThermalStats> {
    const dir = `${this.paths.sys}/class/thermal`;
    const names = (await this.io.listOptional(dir, signal)).map((e) => e.name);
    const zoneIds = names.flatMap((n) => numberedName("thermal_zone", n) ?? []).sort(byNumber);
    const cdevIds = names.flatMap((n) => numberedName("cooling_device", n) ?? []).sort(byNumber);
    const zones: ThermalZone[] = [];
    for (const zone of zoneIds) {
      const base = `${dir}/thermal_zone${zone}`;
      const attrs = await this.attributes(base, ["type", "temp"], signal);
      if (!attrs) continue;
      zones.push({ zone, type: parseSysfsString(attrs.type), temp_celsius: Number(parseSysfsI64(attrs.temp, `${base}/temp`)) / 1000 });
    }
    const cooling_devices: CoolingDevice[] = [];
    for (const name of cdevIds) {
      const base = `${dir}/cooling_device${name}`;
      const attrs = await this.attributes(base, ["type", "cur_state", "max_state"], signal);
      if (!attrs) continue;
      cooling_devices.push({
        name,
        type: parseSysfsString(attrs.type),
        cur_state: parseSysfsI64(attrs.cur_state, `${base}/cur_state`),
        max_state: parseSysfsI64(attrs.max_state, `${base}/max_state`),
      });
    }
    return { zones, cooling_devices };
  }

  /** The attributes' texts, or undefined when the kernel refuses one of them for this device. */
  private async attributes<K extends string>(
    base: string,
    names: readonly K[],
    signal: AbortSignal,
  ): Promise<Record<K, string> | undefined> {
    const out = {} as Record<K, string>;
    for (const n of names) {
      try {
        out[n] = await this.io.read(`${base}/${n}`, signal);
      } catch (e) {
        if (signal.aborted) throw e;
        if (UNREADABLE_ATTRIBUTE.has(errCode(e) ?? "")) return undefined;
        throw new Error(`failed to read ${base}/${n}: ${errorMessage(e)}`);
      }
    }
    return out;
  }
}

/** JSON of the bonding metric type: one entry per bond. */
export interface BondingMaster {
  master: string;
  /** Configured slaves. */
  slaves: number;
  /** Slaves whose mii_status is "up". */
  active: number;
}

/** /sys/class/net/bonding_masters and each bond's slaves' mii_status; no bonding driver: []. */
export class BondingCollector extends BaseCollector implements PointCollector {
  readonly spec = spec("bonding", "Bonding Collector", true, true, "2.6.0");
  constructor(paths: HostPaths, opts: CollectorOptions = {}) {
    super(paths, opts, ["sys"]);
  }
  async collect(signal: AbortSignal): Promise<BondingMaster[]> {
    const net = `${this.paths.sys}/class/net`;
    const masters = await this.io.readOptional(`${net}/bonding_masters`, signal);
    if (masters === undefined) return [];
    const out: BondingMaster[] = [];
    for (const master of parseSysfsWords(masters)) {
      const slaves = parseSysfsWords(await this.readCritical(`${net}/${master}/bonding/slaves`, signal));
      let active = 0;
      for (const slave of slaves) {
        // lower_<slave> on current kernels, slave_<slave> on older ones.
        const state =
          (await this.io.readOptional(`${net}/${master}/lower_${slave}/bonding_slave/mii_status`, signal)) ??
          (await this.readCritical(`${net}/${master}/slave_${slave}/bonding_slave/mii_status`, signal));
        if (parseSysfsString(state) === "up") active++;
      }
      out.push({ master, slaves: slaves.length, active });
    }
    return out;
  }
}

export interface EdacCsrow {
  csrow: string;
  correctable_errors: bigint;
  uncorrectable_errors: bigint;
}

/** JSON of the edac metric type: one entry per memory controller. */
export interface EdacController {
  controller: string;
  correctable_errors: bigint;
  uncorrectable_errors: bigint;
  /** Errors not attributed to a csrow (served as csrow="unknown"). */
  noinfo_correctable_errors: bigint;
  noinfo_uncorrectable_errors: bigint;
  csrows: EdacCsrow[];
}

/** /sys/devices/system/edac/mc/mcN counters; no EDAC driver: []. */
export class EdacCollector extends BaseCollector implements PointCollector {
  readonly spec = spec("edac", "EDAC Collector", true, true, "2.6.0");
  constructor(paths: HostPaths, opts: CollectorOptions = {}) {
    super(paths, opts, ["sys"]);
  }
  async collect(signal: AbortSignal): Promise<EdacController[]> {
    const dir = `${this.paths.sys}/devices/system/edac/mc`;
    const ids = (await this.io.listOptional(dir, signal)).flatMap((e) => numberedName("mc", e.name) ?? []).sort(byNumber);
    const out: EdacController[] = [];
    for (const controller of ids) {
      const mc = `${dir}/mc${controller}`;
      const count = async (file: string) => parseSysfsUnsigned(await this.readCritical(file, signal), file);
      const csrowIds = (await this.io.listOptional(mc, signal)).flatMap((e) => numberedName("csrow", e.name) ?? []).sort(byNumber);
      const csrows: EdacCsrow[] = [];
      for (const csrow of csrowIds)
        csrows.push({
          csrow,
          correctable_errors: await count(`${mc}/csrow${csrow}/ce_count`),
          uncorrectable_errors: await count(`${mc}/csrow${csrow}/ue_count`),
        });
      out.push({
        controller,
        correctable_errors: await count(`${mc}/ce_count`),
        uncorrectable_errors: await count(`${mc}/ue_count`),
        noinfo_correctable_errors: await count(`${mc}/ce_noinfo_count`),
        noinfo_uncorrectable_errors: await count(`${mc}/ue_noinfo_count`),
        csrows,
      });
    }
    return out;
  }
}

/** /proc/mdstat arrays; no md driver (no file): []. */
export class MdstatCollector extends BaseCollector implements PointCollector {
  readonly spec = spec("mdstat", "Software RAID Collector", true, true, "2.6.0");
  constructor(paths: HostPaths, opts: CollectorOptions = {}) {
    super(paths, opts, ["proc"]);
  }
  async collect(signal: AbortSignal): Promise<MDStat[]> {
    const file = `${this.paths.proc}/mdstat`;
    const text = await this.io.readOptional(file, signal);
    return text === undefined ? [] : parseMdstat(text, file);
  }
}
