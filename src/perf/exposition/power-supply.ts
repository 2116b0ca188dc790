// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// node_power_supply_* from the power_supply collector (node_exporter's powersupplyclass collector).

import { POWER_SUPPLY_VALUES } from "../parsers/power-supply.ts";
import type { FamilyGroup } from "./family.ts";

export const powerSupplyFamilies: FamilyGroup = {
  name: "power_supply",
  types: ["power_supply"],
  define(d, fam) {
    const supplies = () => d.get("power_supply") ?? [];
    for (const [suffix] of POWER_SUPPLY_VALUES)
      fam(`node_power_supply_${suffix}`, "gauge", `${suffix} value of /sys/class/power_supply/<power_supply>.`, () =>
        supplies().flatMap((s) =>
          s.values[suffix] === undefined ? [] : [{ labels: { power_supply: s.power_supply }, value: s.values[suffix] }],
        ),
      );
    fam("node_power_supply_info", "gauge", "info of /sys/class/power_supply/<power_supply>.", () =>
      supplies().map((s) => {
        const labels: Record<string, string> = { ...s.info, power_supply: s.power_supply };
        const sorted = Object.fromEntries(
          Object.keys(labels)
            .sort()
            .map((k) => [k, labels[k]!]),
        );
        return { labels: sorted, value: 1 };
      }),
    );
  },
};
