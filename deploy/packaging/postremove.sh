#!/bin/sh
# Copyright Antimetal, Inc. All rights reserved.
#
# Use of this source code is governed by a source available license that can be found in the
# LICENSE file or at:
# https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt
#
# deb postrm / rpm %postun of antimetal-agent. Arguments: deb "remove", "purge", "upgrade", ...;
# rpm "0" (erase) or "1" (upgrade). remove/erase keep the store and the configuration; purge (deb)
# deletes the store and /etc/antimetal (dpkg has already deleted the conffiles).
set -e
case "$1" in
  purge)
    rm -rf /var/lib/private/antimetal
    if [ -L /var/lib/antimetal ]; then rm -f /var/lib/antimetal; fi
    rm -rf /etc/antimetal
    ;;
esac
if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
exit 0
