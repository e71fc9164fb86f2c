# meshctl probe: one read-only look at everything meshctl manages on a gateway, and at what would break the
# mesh there (the pre-flight records).
#
# Usage:  sh -c "$(cat probe.sh)" meshctl-probe MANIFEST TUNNEL_DIR TUNNEL_PREFIX TUNNEL_TEMPLATE UNIT_PREFIX \
#             FIREWALL_UNIT CHAIN_PREFIX FRR_UNIT -- [PATH ...]
#   e.g.  … /etc/meshctl/manifest.json /etc/openvpn/server mesh- openvpn-server@ meshctl- meshctl-firewall.service \
#             MESHCTL frr.service -- /etc/openvpn/server/mesh-branch.conf …
# Every name comes from meshctl (src/gateway/layout.ts, and chain_prefix from roles/firewall/defaults.yml); none is
# written here. Tunnel configs are TUNNEL_DIR/TUNNEL_PREFIX*.conf, run by TUNNEL_TEMPLATE<config stem>.service;
# meshctl's own units are UNIT_PREFIX*.service; its iptables chains are CHAIN_PREFIX-*; FRR_UNIT is FRR's unit
# (routing: bgp).
#
# Runs as root under any POSIX sh. It never writes, creates, starts, stops or reloads anything. A missing or
# failing tool is reported in the output, never fatal: the probe always ends with an `end` record and exit 0, so
# a non-zero exit means the shell itself could not run (sudo refused, no sh).
#
# Output: one record per line; fields are separated by a TAB; the first field names the record:
#   probe 1                                     format version, always first
#   os-release ID=debian                        raw ID, ID_LIKE, VERSION_ID, VERSION_CODENAME lines of os-release
#   os-release-missing
#   systemd VERSION-LINE                        first line of `systemctl --version`, systemd running as PID 1
#   systemd-not-booted VERSION-LINE             systemctl exists, but systemd is not PID 1 (no /run/systemd/system)
#   systemd-missing                             no systemctl
#   package-manager apt-get                     once per package manager found (apt-get, dnf, yum)
#   openvpn OpenVPN 2.6.14 x86_64-…             first line of `openvpn --version`
#   openvpn-missing
#   server-template yes|no                      the TUNNEL_TEMPLATE.service unit file exists
#   frr VERSION-LINE | frr-missing              first line of `bgpd --version`, bgpd of /usr/lib/frr (Debian) or
#                                               /usr/libexec/frr (RHEL family)
#   frr-reload yes|no                           frr-reload.py exists there (what `systemctl reload frr` runs)
#   frr-config PATH pristine|changed            a PATH asked for that is a configuration file of the frr package:
#                                               still as the package shipped it, or changed (dpkg or rpm says)
#   file PATH SHA256 MODE OWNER                 a regular file (MODE in octal, as stat %a prints it)
#   file-absent PATH
#   file-other PATH                             exists but is not a regular file (a directory, a socket, …)
#   file-unreadable PATH DETAIL                 exists but could not be checksummed
#   manifest LINE                               one per line of MANIFEST, verbatim
#   manifest-end | manifest-absent
#   unit KEY=VALUE                              `systemctl show` output; unit-end closes one unit's block
#   unit-end
#   systemd-unavailable DETAIL                  systemctl missing or not talking (no systemd as PID 1)
#   ip-forward 0|1 | ip-forward-unknown
#   iptables RULE                               each `iptables -S` line naming a CHAIN_PREFIX- chain
#   iptables-read | iptables-missing | iptables-failed DETAIL
# Pre-flight records (what would make a rendered mesh fail silently; src/plan/preflight.ts reads them):
#   time EPOCH                                  the gateway's clock, `date +%s`
#   addr LINE                                   each `ip -4 -o addr show` line (interface, address/prefix)
#   route LINE                                  each `ip -4 route show table all` line, except local, broadcast and
#                                               multicast ones; at most 5000
#   route-truncated                             more routes than that (the rest were not read)
#   ip-unavailable DETAIL                       no `ip` (iproute2): addresses and routes are unknown
#   udp-ss LINE                                 each `ss -ulnp` line (bound UDP sockets and their processes)
#   udp-proc LINE                               without ss: each line of /proc/net/udp and /proc/net/udp6 (no owner)
#   udp-unavailable
#   sysctl-file PATH                            each sysctl file read (a file in /etc masks one of the same name later on)
#   sysctl-forward PATH LINE                    each line setting net.ipv4.ip_forward or net.ipv4.conf.all.forwarding
#                                               in the sysctl.d directories or /etc/sysctl.conf
#   forward-chain RULE                          each `iptables -S FORWARD` line (the policy and every rule, in order)
#   nft LINE                                    each table, chain and hook line of `nft list chains`, when nft exists
#   rp-filter IFACE VALUE                       net.ipv4.conf.<IFACE>.rp_filter, for all, default and each interface
# The directories read here (sysctl.d, /proc) are the system's own, not meshctl's.
#   end

# sbin directories first: a non-root login's PATH often lacks them (sudo's secure_path may not).
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH}
LC_ALL=C
export PATH LC_ALL

if [ "$#" -lt 9 ] || [ "$9" != -- ]; then
  echo "meshctl-probe: expected MANIFEST TUNNEL_DIR TUNNEL_PREFIX TUNNEL_TEMPLATE UNIT_PREFIX FIREWALL_UNIT CHAIN_PREFIX FRR_UNIT -- [PATH ...]" >&2
  exit 2
fi
MANIFEST=$1
TUNNEL_DIR=$2
TUNNEL_PREFIX=$3
TUNNEL_TEMPLATE=$4
UNIT_PREFIX=$5
FIREWALL_UNIT=$6
CHAIN_PREFIX=$7
FRR_UNIT=$8
shift 9
for setting in "$MANIFEST" "$TUNNEL_DIR" "$TUNNEL_PREFIX" "$TUNNEL_TEMPLATE" "$UNIT_PREFIX" "$FIREWALL_UNIT" \
  "$CHAIN_PREFIX" "$FRR_UNIT"; do
  if [ -z "$setting" ]; then
    echo "meshctl-probe: an empty setting among its arguments" >&2
    exit 2
  fi
done

# record TAG [FIELD ...]: one output line. Fields never contain a TAB or a newline (see one_line).
record() {
  printf '%s' "$1"
  shift
  for field in "$@"; do printf '\t%s' "$field"; done
  printf '\n'
}

# Free text (version lines, error messages) flattened to one line without TABs.
one_line() {
  tr '\t\n' '  ' | sed 's/ *$//'
}

have() {
  command -v "$1" >/dev/null 2>&1
}

# records TAG: one TAG record per line of stdin (one sed for all lines: a gateway may have thousands)
TAB=$(printf '\t')
nl='
'

# first_line TEXT: sets fl to one_line's result for TEXT's first line, in this shell (no process, in the usual
# case of no TAB)
first_line() {
  fl=${1%%"$nl"*}
  case $fl in *"$TAB"*) fl=$(printf '%s' "$fl" | tr '\t' ' ') ;; esac
  while case $fl in *' ') true ;; *) false ;; esac; do fl=${fl% }; done
}
records() {
  tr '\t' ' ' | sed "s/ *\$//; s/^/$1$TAB/"
}

record probe 1

# --- operating system ---------------------------------------------------------------------------------------
os_release=
for candidate in /etc/os-release /usr/lib/os-release; do
  if [ -r "$candidate" ]; then
    os_release=$candidate
    break
  fi
done
if [ -n "$os_release" ]; then
  # Read, never sourced: sourcing would run whatever the file contains.
  grep -E '^(ID|ID_LIKE|VERSION_ID|VERSION_CODENAME)=' "$os_release" | records os-release
else
  record os-release-missing
fi

# sd_booted(3): systemd is PID 1 when /run/systemd/system exists
if have systemctl; then
  first_line "$(systemctl --version 2>/dev/null)"
  systemd_version=$fl
  if [ -d /run/systemd/system ]; then
    record systemd "$systemd_version"
  else
    record systemd-not-booted "$systemd_version"
  fi
else
  record systemd-missing
fi

for manager in apt-get dnf yum; do
  if have "$manager"; then record package-manager "$manager"; fi
done

# --- OpenVPN ------------------------------------------------------------------------------------------------
if have openvpn; then
  # `openvpn --version` exits 1 on some releases: only its first line matters.
  first_line "$(openvpn --version 2>/dev/null)"
  record openvpn "$fl"
else
  record openvpn-missing
fi

# Unit file paths, not `systemctl cat`: this works even where systemd is not PID 1.
template=no
for dir in /etc/systemd/system /run/systemd/system /usr/local/lib/systemd/system /usr/lib/systemd/system \
  /lib/systemd/system; do
  if [ -f "$dir/${TUNNEL_TEMPLATE}.service" ]; then template=yes; fi
done
record server-template "$template"

# --- FRR (routing: bgp) ---------------------------------------------------------------------------------------
# FRR's daemons and frr-reload.py live in /usr/lib/frr on Debian and Ubuntu, in /usr/libexec/frr on the RHEL family.
frr_bgpd=
frr_reload=no
for dir in /usr/lib/frr /usr/libexec/frr; do
  if [ -z "$frr_bgpd" ] && [ -x "$dir/bgpd" ]; then frr_bgpd=$dir/bgpd; fi
  if [ -f "$dir/frr-reload.py" ]; then frr_reload=yes; fi
done
if [ -n "$frr_bgpd" ]; then
  first_line "$("$frr_bgpd" --version 2>/dev/null)"
  record frr "$fl"
else
  record frr-missing
fi
record frr-reload "$frr_reload"
# Whether a configuration file of the package is as it shipped: dpkg keeps each conffile's md5, rpm -V names the
# changed ones. Only paths asked for are looked at (a bgp gateway asks for /etc/frr/frr.conf and daemons). The loops
# run over the package's few configuration files, in this shell: a process per path asked for (a gateway asks for
# three files per tunnel) made the probe grow with the tunnels.
# asked PATH...: the paths, each between newlines; "$asked" holds "<nl>PATH<nl>" when PATH was asked for
asked_paths() {
  asked=$nl
  for path in "$@"; do asked=$asked$path$nl; done
}
# frr_dpkg CONFFILES PATH...: CONFFILES is dpkg's " NAME MD5" lines
frr_dpkg() {
  conffiles=$1
  shift
  asked_paths "$@"
  set -f
  IFS=$nl
  for line in $conffiles; do
    IFS=' '
    # shellcheck disable=SC2086
    set -- $line
    IFS=$nl
    name=${1-}
    shipped=${2-}
    [ -n "$name" ] && [ -n "$shipped" ] || continue
    case $asked in *"$nl$name$nl"*) ;; *) continue ;; esac
    [ -f "$name" ] || continue
    current=$(md5sum <"$name" 2>/dev/null) || continue
    if [ "${current%% *}" = "$shipped" ]; then record frr-config "$name" pristine; else record frr-config "$name" changed; fi
  done
  unset IFS
  set +f
}
# frr_rpm CONFIGS VERIFIED PATH...: CONFIGS one path per line (rpm -qc), VERIFIED what rpm -V printed
frr_rpm() {
  configs=$1
  verified=$2
  shift 2
  asked_paths "$@"
  set -f
  IFS=$nl
  for name in $configs; do
    case $asked in *"$nl$name$nl"*) ;; *) continue ;; esac
    [ -f "$name" ] || continue
    # `S.5....T.  c /etc/frr/frr.conf`: a 5 in the third column means the content changed
    state=pristine
    for line in $verified; do
      case $line in *" $name"*) case $line in ??5*) state=changed ;; esac ;; esac
    done
    record frr-config "$name" "$state"
  done
  unset IFS
  set +f
}
if have dpkg-query && conffiles=$(dpkg-query -W -f='${Conffiles}\n' frr 2>/dev/null) && [ -n "$conffiles" ]; then
  frr_dpkg "$conffiles" "$@"
elif have rpm && configs=$(rpm -qc frr 2>/dev/null); then
  frr_rpm "$configs" "$(rpm -V frr 2>/dev/null)" "$@"
fi

# --- files --------------------------------------------------------------------------------------------------
# The paths asked for, every path in the manifest, every tunnel config present: one per line, deduplicated.
# Manifest paths are the JSON strings that start with `/` (its other strings are hex checksums and names).
candidate_paths() {
  for path in "$@"; do printf '%s\n' "$path"; done
  if [ -f "$MANIFEST" ]; then tr '"' '\n' <"$MANIFEST" | grep '^/'; fi
  for path in "$TUNNEL_DIR/$TUNNEL_PREFIX"*.conf; do
    if [ -e "$path" ]; then printf '%s\n' "$path"; fi
  done
}

checksum() {
  if have sha256sum; then
    sha256sum 2>/dev/null <"$1"
  elif have openssl; then
    openssl dgst -sha256 -r 2>/dev/null <"$1"
  else
    return 1
  fi
}

probe_file() {
  if [ ! -e "$1" ] && [ ! -L "$1" ]; then
    record file-absent "$1"
  elif [ ! -f "$1" ]; then
    record file-other "$1"
  elif sum=$(checksum "$1") && [ -n "$sum" ]; then
    meta=$(stat -c '%a %U' "$1" 2>/dev/null) || meta='? ?'
    record file "$1" "${sum%% *}" "${meta%% *}" "${meta#* }"
  else
    record file-unreadable "$1" "no sha256sum or openssl, or the file cannot be read"
  fi
}

# Regular files are checksummed by ONE sha256sum and described by ONE stat: a process or two per file made the
# probe slow on a gateway with many tunnels. Each output line is matched to its file by name; when any does not
# match (a name sha256sum escapes, a file gone or unreadable meanwhile, no sha256sum), every file is done on its own.
# probe_files LIST: LIST holds one path per line (a function's arguments are its own: the probe's stay intact).
probe_files() {
  IFS=$nl
  # shellcheck disable=SC2086
  set -f -- $1
  set +f
  unset IFS
  regular=
  for path in "$@"; do
    if [ ! -e "$path" ] && [ ! -L "$path" ]; then
      record file-absent "$path"
    elif [ ! -f "$path" ]; then
      record file-other "$path"
    else
      regular=$regular$path$nl
    fi
  done
  [ -n "$regular" ] || return 0
  IFS=$nl
  # shellcheck disable=SC2086
  set -f -- $regular
  set +f
  unset IFS
  if have sha256sum && have stat; then
    sums=$(sha256sum -- "$@" 2>/dev/null)$nl
    metas=$(stat -c '%a %U %n' -- "$@" 2>/dev/null)$nl
    lines=
    for path in "$@"; do
      sum=${sums%%"$nl"*}
      sums=${sums#*"$nl"}
      meta=${metas%%"$nl"*}
      metas=${metas#*"$nl"}
      mode_owner=${meta% "$path"}
      if [ "${sum#*  }" != "$path" ] || [ "$mode_owner" = "$meta" ] || [ -z "${sum%%  *}" ]; then
        lines=
        break
      fi
      lines=$lines$path$nl${sum%%  *}$nl$mode_owner$nl
    done
    if [ -n "$lines" ]; then
      while [ -n "$lines" ]; do
        path=${lines%%"$nl"*}
        lines=${lines#*"$nl"}
        sum=${lines%%"$nl"*}
        lines=${lines#*"$nl"}
        mode_owner=${lines%%"$nl"*}
        lines=${lines#*"$nl"}
        record file "$path" "$sum" "${mode_owner%% *}" "${mode_owner#* }"
      done
      return 0
    fi
  fi
  for path in "$@"; do probe_file "$path"; done
}

paths=$(candidate_paths "$@" | sort -u | while IFS= read -r path; do
  case $path in
  /*) printf '%s\n' "$path" ;;
  esac
done)
probe_files "$paths"

# --- manifest -----------------------------------------------------------------------------------------------
if [ -f "$MANIFEST" ]; then
  # `|| [ -n "$line" ]` keeps a last line that has no trailing newline.
  while IFS= read -r line || [ -n "$line" ]; do
    record manifest "$line"
  done <"$MANIFEST"
  record manifest-end
else
  record manifest-absent
fi

# --- units --------------------------------------------------------------------------------------------------
# Tunnel units of the configs asked for and present, units named in the manifest, tunnel units systemd knows,
# and the firewall unit. Names are filtered to unit-name characters before they reach systemctl.
tunnel_unit_of() {
  case $1 in
  "$TUNNEL_DIR/$TUNNEL_PREFIX"*.conf)
    name=${1#"$TUNNEL_DIR"/}
    printf '%s%s.service\n' "$TUNNEL_TEMPLATE" "${name%.conf}"
    ;;
  esac
}

candidate_units() {
  for path in "$@" "$TUNNEL_DIR/$TUNNEL_PREFIX"*.conf; do tunnel_unit_of "$path"; done
  if [ -f "$MANIFEST" ]; then tr '"' '\n' <"$MANIFEST" | grep -E '\.service$'; fi
  if have systemctl; then
    systemctl list-units --all --plain --no-legend --no-pager -- "$TUNNEL_TEMPLATE$TUNNEL_PREFIX*" 2>/dev/null |
      while read -r unit _rest; do printf '%s\n' "$unit"; done
    systemctl list-unit-files --plain --no-legend --no-pager -- "$TUNNEL_TEMPLATE$TUNNEL_PREFIX*" 2>/dev/null |
      while read -r unit _rest; do printf '%s\n' "$unit"; done
  fi
  printf '%s\n' "$FIREWALL_UNIT"
  printf '%s\n' "$FRR_UNIT"
}

# Only tunnel units and meshctl's own, spelt with unit-name characters, reach systemctl. The quoted parts of the
# patterns are literal: the settings are never glob patterns.
managed_units() {
  while IFS= read -r unit; do
    case $unit in
    *[!A-Za-z0-9@_.-]*) ;;
    "$TUNNEL_TEMPLATE$TUNNEL_PREFIX"?*.service | "$UNIT_PREFIX"?*.service | "$FRR_UNIT") printf '%s\n' "$unit" ;;
    esac
  done
}

units=$(candidate_units "$@" | managed_units | sort -u)

if have systemctl; then
  # One call for every unit. Word splitting of $units is intended: names hold no space or glob character.
  # shellcheck disable=SC2086
  if shown=$(systemctl show --no-pager \
    --property=Id,LoadState,ActiveState,SubState,UnitFileState,MainPID,StatusText -- $units 2>&1); then
    # one_line on the whole output at once (each line a value of its own): no processes per line
    printf '%s\n' "$shown" | tr '\t' ' ' | sed 's/ *$//' | while IFS= read -r line; do
      if [ -z "$line" ]; then record unit-end; else record unit "$line"; fi
    done
    record unit-end
  else
    record systemd-unavailable "$(printf '%s' "$shown" | head -n 1 | one_line)"
  fi
else
  record systemd-unavailable "systemctl not found"
fi

# --- forwarding and firewall --------------------------------------------------------------------------------
if [ -r /proc/sys/net/ipv4/ip_forward ]; then
  record ip-forward "$(cat /proc/sys/net/ipv4/ip_forward)"
else
  record ip-forward-unknown
fi

if have iptables; then
  # -S only lists rules; -w waits for the xtables lock instead of failing while another tool holds it.
  if rules=$(iptables -w -S 2>&1); then
    printf '%s\n' "$rules" | grep -F -- "$CHAIN_PREFIX-" | while IFS= read -r line; do
      record iptables "$line"
    done
    record iptables-read
  else
    record iptables-failed "$(printf '%s' "$rules" | head -n 1 | one_line)"
  fi
else
  record iptables-missing
fi

# --- pre-flight: clock, addresses, routes, UDP ports, sysctl files, FORWARD, rp_filter -------------------------
record time "$(date +%s)"

if have ip; then
  ip -4 -o addr show 2>/dev/null | records addr
  # a gateway holding a full BGP table would print a million routes: the first 5000 tell enough
  routes=$(ip -4 route show table all 2>/dev/null | grep -v -E '^(local|broadcast|multicast) ' | head -n 5001)
  if [ -n "$routes" ]; then
    printf '%s\n' "$routes" | head -n 5000 | records route
    if [ "$(printf '%s\n' "$routes" | wc -l)" -gt 5000 ]; then record route-truncated; fi
  fi
else
  record ip-unavailable "ip (iproute2) not found"
fi

if have ss; then
  ss -ulnp 2>/dev/null | records udp-ss
elif [ -r /proc/net/udp ]; then
  cat /proc/net/udp /proc/net/udp6 2>/dev/null | records udp-proc
else
  record udp-unavailable
fi

# sysctl-forward: which file last sets forwarding decides it at boot and on every `sysctl --system`
for file in /etc/sysctl.d/*.conf /run/sysctl.d/*.conf /usr/local/lib/sysctl.d/*.conf /usr/lib/sysctl.d/*.conf \
  /lib/sysctl.d/*.conf /etc/sysctl.conf; do
  if [ -f "$file" ] && [ -r "$file" ]; then
    record sysctl-file "$file"
    # one grep per file and the lines split in this shell: no pipeline per file
    matches=$(grep -E '^[[:space:]]*-?[[:space:]]*net[./]ipv4[./](ip_forward|conf[./]all[./]forwarding)[[:space:]]*=' "$file" 2>/dev/null)
    set -f
    IFS=$nl
    for line in $matches; do
      first_line "$line"
      record sysctl-forward "$file" "$fl"
    done
    unset IFS
    set +f
  fi
done

if have iptables; then
  if forward=$(iptables -w -S FORWARD 2>/dev/null); then
    printf '%s\n' "$forward" | records forward-chain
  fi
fi
if have nft; then
  nft list chains 2>/dev/null | grep -E '^[[:space:]]*(table|chain|type) ' | sed 's/^[[:space:]]*//' | records nft
fi

# one grep for every interface (a container host has hundreds); interface names hold no `/`, `:` or blank
grep -H '' /proc/sys/net/ipv4/conf/*/rp_filter 2>/dev/null |
  sed -n "s|^/proc/sys/net/ipv4/conf/\([^/]*\)/rp_filter:\([0-9]*\)\$|rp-filter$TAB\1$TAB\2|p"

record end
exit 0
