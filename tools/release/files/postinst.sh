#!/bin/sh
# stsd postinst (deb: postinst configure [OLD]; rpm: %post 1|2). Never
# enables or starts the service: it has nothing to serve until
# /etc/stsd/config.toml is configured. An upgrade restarts it only if it
# was running.
set -e
if command -v systemd-tmpfiles >/dev/null 2>&1; then
	systemd-tmpfiles --create /usr/lib/tmpfiles.d/stsd.conf || true
fi
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload || true
	case "$1" in
	configure) [ -z "$2" ] || systemctl try-restart stsd.service || true ;;
	[0-9]*) [ "$1" -lt 2 ] || systemctl try-restart stsd.service || true ;;
	esac
fi
case "$1" in
configure | 1)
	if [ -z "$2" ]; then
		echo "stsd: installed, not enabled. Per user: run \`stsd init\`. System-wide: edit /etc/stsd/config.toml, run \`sudo stsd check --system\`, then \`sudo systemctl enable --now stsd\`."
	fi
	;;
esac
exit 0
