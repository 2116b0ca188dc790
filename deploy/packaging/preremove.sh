#!/bin/sh
# Copyright Antimetal, Inc. All rights reserved.
#
# Use of this source code is governed by a source available license that can be found in the
# LICENSE file or at:
# https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt
#
# deb prerm / rpm %preun of antimetal-agent. Arguments: deb "remove" or "upgrade <new version>",
# rpm "0" (erase) or "1" (upgrade). Stops and disables the service when the package goes away; an
# upgrade leaves it running (the new package's postinstall restarts it).
set -e
[ -d /run/systemd/system ] || exit 0
case "$1" in
  remove|0) systemctl disable --now antimetal-agent.service || true ;;
esac
exit 0
