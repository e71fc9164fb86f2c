#!/bin/sh
# Installs Debian's headless-capable Chromium for the browser tests of meshctl's HTML pages, idempotently: nothing is
# done when it is already installed. Run as root. --no-install-recommends keeps it to ~25 packages (plain -y pulls
# in avahi, udev and a hundred more). The tests drive it with puppeteer-core, which never downloads a browser.
set -eu

PACKAGES="chromium"

if [ "$(id -u)" -ne 0 ]; then
  echo "install-browser.sh: needs root (it runs apt-get install): run it with sudo" >&2
  exit 1
fi

# Debian's /usr/bin/chromium is a wrapper whose /dev/shm check prints an error on some machines: ask the binary
version() {
  if [ -x /usr/lib/chromium/chromium ]; then binary=/usr/lib/chromium/chromium; else binary=chromium; fi
  line=$("$binary" --version) || return 1
  printf '%s\n' "$line" | sed 's/[[:space:]]*$//'
}

missing=""
for package in $PACKAGES; do
  if ! dpkg-query -W -f '${Status}' "$package" 2>/dev/null | grep -q '^install ok installed$'; then
    missing="$missing $package"
  fi
done
if [ -z "$missing" ]; then
  echo "install-browser.sh: $(version) is installed"
  exit 0
fi

echo "install-browser.sh: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# quiet: apt's output is shown only when a step fails
log=$(mktemp)
trap 'rm -f "$log"' EXIT
quietly() {
  if ! "$@" >"$log" 2>&1; then
    cat "$log" >&2
    echo "install-browser.sh: failed: $*" >&2
    exit 1
  fi
}
# another apt run may hold the lock for a while: wait for it rather than fail
quietly apt-get -q -o DPkg::Lock::Timeout=300 update
# shellcheck disable=SC2086 # one word per package
quietly apt-get -q -o DPkg::Lock::Timeout=300 install -y --no-install-recommends $missing
installed=$(version) || {
  echo "install-browser.sh: chromium is installed but does not start" >&2
  exit 1
}
echo "install-browser.sh: done, $installed"
