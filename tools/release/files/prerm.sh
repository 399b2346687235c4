#!/bin/sh
# stsd prerm (deb: prerm remove|upgrade; rpm: %preun 0|1). On removal
# stops and disables the service; an upgrade leaves it alone.
set -e
case "$1" in
remove | 0)
	if [ -d /run/systemd/system ]; then
		systemctl disable --now stsd.service >/dev/null 2>&1 || true
	elif command -v systemctl >/dev/null 2>&1; then
		systemctl disable stsd.service >/dev/null 2>&1 || true
	fi
	;;
esac
exit 0
