// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// node_uname_info, node_os_info, node_os_version and node_selinux_* from the uname, os_release and selinux collectors
// (node_exporter's uname and os collectors).

import type { FamilyGroup } from "./family.ts";

export const hostIdentityFamilies: FamilyGroup = {
  name: "host_identity",
  types: ["uname", "os_release", "selinux"],
  define(d, fam) {
    fam("node_uname_info", "gauge", "Labeled system information as provided by the uname system call.", () => {
      const u = d.get("uname");
      if (!u) return [];
      const { domainname, machine, nodename, release, sysname, version } = u;
      return [{ labels: { domainname, machine, nodename, release, sysname, version }, value: 1 }];
    });
    fam(
      "node_os_info",
      "gauge",
      "A metric with a constant '1' value labeled by build_id, id, id_like, image_id, image_version, name, pretty_name, variant, variant_id, version, version_codename, version_id.",
      () => {
        const o = d.get("os_release");
        if (!o) return [];
        const labels = {
          build_id: o.build_id,
          id: o.id,
          id_like: o.id_like,
          image_id: o.image_id,
          image_version: o.image_version,
          name: o.name,
          pretty_name: o.pretty_name,
          variant: o.variant,
          variant_id: o.variant_id,
          version: o.version,
          version_codename: o.version_codename,
          version_id: o.version_id,
        };
        return [{ labels, value: 1 }];
      },
    );
    fam("node_selinux_enabled", "gauge", "SELinux is enabled, 1 is true, 0 is false", () => {
      const s = d.get("selinux");
      return s ? [{ labels: {}, value: s.enabled ? 1 : 0 }] : [];
    });
    fam("node_selinux_config_mode", "gauge", "Configured SELinux enforcement mode", () => {
      const s = d.get("selinux");
      return s?.enabled && s.config_mode !== null ? [{ labels: {}, value: s.config_mode }] : [];
    });
    fam("node_selinux_current_mode", "gauge", "Current SELinux enforcement mode", () => {
      const s = d.get("selinux");
      return s?.enabled && s.current_mode !== null ? [{ labels: {}, value: s.current_mode }] : [];
    });
    fam("node_os_version", "gauge", "Metric containing the major.minor part of the OS version.", () => {
      const o = d.get("os_release");
      if (!o || o.version_number === null) return [];
      return [{ labels: { id: o.id, id_like: o.id_like, name: o.name }, value: o.version_number }];
    });
  },
};
