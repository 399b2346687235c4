#!/bin/sh
# stsd postrm (deb: postrm remove|purge|upgrade; rpm: %postun 0|1). Purge
# removes the cache and state; the config, when kept, and the stsd user
# stay (remove them by hand: userdel stsd).
set -e
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload || true
fi
case "$1" in
purge) rm -rf /var/cache/stsd /var/lib/stsd ;;
esac
exit 0
