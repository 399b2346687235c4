#!/usr/bin/env bash
# stsd demo: a local STS stand-in, the daemon with a sample config in a temp
# HOME, and credentials flowing to the AWS CLI through credential_process.
# Nothing outside the temp dir is touched; Ctrl-C stops everything.
#   --once   show one round and exit (what the test runs)
set -euo pipefail

once=0
[ "${1:-}" = "--once" ] && once=1
root=$(cd "$(dirname "$0")/.." && pwd)
bin="${STSD_BIN:-$root/bin}"
for b in stsd stsd-credential-process fakests; do
  [ -x "$bin/$b" ] || { echo "demo: $bin/$b missing: run 'make build' first" >&2; exit 1; }
done

tmp=$(mktemp -d /tmp/stsd-demo.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A private world: nothing reads or writes the real ~/.aws or ~/.config.
export HOME="$tmp/home" XDG_CONFIG_HOME="$tmp/home/.config" XDG_CACHE_HOME="$tmp/home/.cache"
export XDG_RUNTIME_DIR="$tmp/run" XDG_STATE_HOME="$tmp/home/.local/state"
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN \
  AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE STSD_CONFIG STSD_SOCKET
mkdir -p "$HOME/.aws" "$XDG_CONFIG_HOME/stsd" "$XDG_RUNTIME_DIR"
chmod 700 "$tmp" "$HOME" "$XDG_RUNTIME_DIR"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. start the STS stand-in (a Go test server speaking the real STS Query protocol)"
# 3-minute credentials so the demo shows a refresh within a couple of minutes.
"$bin/fakests" -listen 127.0.0.1:0 -lifetime 3m >"$tmp/sts.out" 2>"$tmp/sts.log" &
pids+=($!)
for _ in $(seq 100); do grep -q '^STS_URL=' "$tmp/sts.out" 2>/dev/null && break; sleep 0.05; done
sts_url=$(sed -n 's/^STS_URL=//p' "$tmp/sts.out")
[ -n "$sts_url" ] || { echo "demo: the STS stand-in did not start" >&2; cat "$tmp/sts.log" >&2; exit 1; }
export AWS_ENDPOINT_URL_STS="$sts_url"
echo "STS stand-in at $sts_url (AWS_ENDPOINT_URL_STS)"

step "2. write a long-term key, the stsd config and the AWS profile"
cat >"$HOME/.aws/credentials" <<CREDS
[demo-long-term]
aws_access_key_id = AKIAIOSFODNN7EXAMPLE
aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
CREDS
chmod 600 "$HOME/.aws/credentials"
cat >"$HOME/.aws/config" <<AWSCFG
[profile demo]
credential_process = $bin/stsd-credential-process --profile demo
region = us-east-1
AWSCFG
cat >"$XDG_CONFIG_HOME/stsd/config.toml" <<TOML
# The long-term key lives in [demo-long-term]; programs only ever see
# short-lived credentials of profile "demo".
[profiles.demo]
source_profile = "demo-long-term"
mode = "session"          # GetSessionToken
duration = "1h"
TOML
echo "~/.aws/credentials  [demo-long-term]  (long-term key, read only by stsd)"
echo "~/.aws/config       [profile demo]    credential_process = $bin/stsd-credential-process --profile demo"
echo "stsd config:        $XDG_CONFIG_HOME/stsd/config.toml"
"$bin/stsd" check

step "3. start the daemon (logs below are its own)"
"$bin/stsd" run &
pids+=($!)
# Wait until the first credentials are in (status says "ok").
for _ in $(seq 200); do "$bin/stsd" status 2>/dev/null | grep -q ' ok ' && break; sleep 0.05; done

show() {
  step "stsd status"
  "$bin/stsd" status || true
  step "credential_process output (secrets masked here)"
  "$bin/stsd-credential-process" --profile demo |
    sed -E 's/("SecretAccessKey":")[^"]*/\1…/; s/("SessionToken":")[^"]*/\1…/'
  step "aws sts get-caller-identity --profile demo"
  if command -v aws >/dev/null 2>&1; then
    aws sts get-caller-identity --profile demo --output json
  else
    echo "(the AWS CLI is not installed: skipping this step; install it to see the CLI use stsd)"
  fi
}
show
if [ "$once" = 1 ]; then
  step "done (one-shot mode)"
  exit 0
fi
echo
echo "Running. The credentials last 3 minutes; stsd refreshes them before they expire."
echo "Press Ctrl-C to stop (everything in $tmp is removed)."
while sleep 60; do show; done
