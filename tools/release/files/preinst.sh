#!/bin/sh
# stsd preinst (deb: preinst install|upgrade; rpm: %pre 1|2). Creates the
# stsd user and group before the files are unpacked, so the ones owned by
# group stsd (/etc/stsd, its config) get that group and not root's.
set -e
if command -v systemd-sysusers >/dev/null 2>&1; then
	systemd-sysusers --replace=/usr/lib/sysusers.d/stsd.conf - <<'SYSUSERS'
u stsd - "stsd credential daemon" /var/lib/stsd /usr/sbin/nologin
SYSUSERS
else
	getent group stsd >/dev/null || groupadd --system stsd
	getent passwd stsd >/dev/null || useradd --system --gid stsd --no-create-home \
		--home-dir /var/lib/stsd --shell /usr/sbin/nologin --comment "stsd credential daemon" stsd
fi
exit 0
