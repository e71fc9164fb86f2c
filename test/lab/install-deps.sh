#!/bin/sh
# Installs what the meshctl lab needs on this machine (Debian/Ubuntu), idempotently: packages already present are
# left alone and nothing is installed when all of them are. Run as root.
#
# A policy-rc.d that refuses every service start is put in place for the duration of the install, so installing
# openssh-server or openvpn does not start them on this machine; whatever policy-rc.d was there before is restored.
set -eu

PACKAGES="openvpn openssh-server openssh-client iptables iproute2 iputils-ping systemd-container debootstrap dpkg-dev util-linux bash"

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps.sh: needs root (it runs apt-get install): run it with sudo" >&2
  exit 1
fi

missing=""
for package in $PACKAGES; do
  if ! dpkg-query -W -f '${Status}' "$package" 2>/dev/null | grep -q '^install ok installed$'; then
    missing="$missing $package"
  fi
done
if [ -z "$missing" ]; then
  echo "install-deps.sh: all lab packages are installed"
  exit 0
fi

POLICY=/usr/sbin/policy-rc.d
BACKUP=""
if [ -e "$POLICY" ] || [ -L "$POLICY" ]; then
  BACKUP=$(mktemp "$POLICY.meshctl-lab.XXXXXX")
  mv -f "$POLICY" "$BACKUP"
fi
restore_policy() {
  rm -f "$POLICY"
  if [ -n "$BACKUP" ]; then mv -f "$BACKUP" "$POLICY"; fi
}
trap restore_policy EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
printf '#!/bin/sh\n# meshctl lab: no service starts while its packages install\nexit 101\n' > "$POLICY"
chmod 755 "$POLICY"

echo "install-deps.sh: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# another apt run may hold the lock for a while: wait for it rather than fail
apt-get -o DPkg::Lock::Timeout=300 update
# shellcheck disable=SC2086 # one word per package
apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends $missing
echo "install-deps.sh: done"
