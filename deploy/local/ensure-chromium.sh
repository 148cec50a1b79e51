#!/usr/bin/env bash
# Installs Debian's chromium for the evidence page's browser test (test/e2e-evidence-browser.int.test.ts), once.
# Idempotent: prints the browser's path and exits 0 when it is already there. The test drives it with
# playwright-core, which never downloads a browser of its own (this machine cannot fetch one anyway).
#
#   bash deploy/local/ensure-chromium.sh      # prints /usr/bin/chromium
#
# Exit codes: 0 installed (path on stdout), 1 could not install (apt's log on stderr).
set -euo pipefail

readonly BROWSER=/usr/bin/chromium

if [[ -x $BROWSER ]]; then
  echo "$BROWSER"
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "ensure-chromium: $BROWSER is missing; as root: apt-get install chromium" >&2
  exit 1
fi
log=$(mktemp -t vigie-chromium-apt.XXXXXX.log)
# Others may hold the dpkg lock (another install in progress): wait for it rather than fail.
if ! {
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update &&
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends chromium
} >"$log" 2>&1; then
  echo "ensure-chromium: apt-get install chromium failed; last lines of $log:" >&2
  tail -n 20 "$log" >&2
  exit 1
fi
rm -f -- "$log"
[[ -x $BROWSER ]] || {
  echo "ensure-chromium: chromium installed but $BROWSER is missing" >&2
  exit 1
}
echo "$BROWSER"
