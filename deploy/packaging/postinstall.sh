#!/bin/sh
# Copyright Antimetal, Inc. All rights reserved.
#
# Use of this source code is governed by a source available license that can be found in the
# LICENSE file or at:
# https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt
#
# deb postinst / rpm %post of antimetal-agent. Arguments: deb "configure [<old version>]",
# rpm "1" (install) or "2" (upgrade). Creates the state directory, then enables and starts the
# service on a first install and restarts it on an upgrade. /etc/antimetal/agent.yaml and agent.env
# are conffiles (deb) / %config(noreplace) (rpm): the package manager keeps changed copies.
set -e

# The store of the DynamicUser service: /var/lib/private/antimetal (0700; systemd hands it to the
# transient uid at start) and the /var/lib/antimetal link systemd itself would make.
install -d -m 0700 /var/lib/private
install -d -m 0700 /var/lib/private/antimetal
if [ ! -e /var/lib/antimetal ] && [ ! -L /var/lib/antimetal ]; then
  ln -s private/antimetal /var/lib/antimetal
fi

# No systemd running (a container image build, a chroot): files only.
[ -d /run/systemd/system ] || exit 0
systemctl daemon-reload || true
case "$1" in
  configure)
    if [ -z "${2:-}" ]; then systemctl enable --now antimetal-agent.service || true
    else systemctl try-restart antimetal-agent.service || true; fi ;;
  1) systemctl enable --now antimetal-agent.service || true ;;
  2) systemctl try-restart antimetal-agent.service || true ;;
esac
exit 0
