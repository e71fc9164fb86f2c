# meshctl status: one read-only look at the health of a gateway's tunnels (SPEC §8), in two phases.
#
# Usage:  sh -c "$(cat status.sh)" meshctl-status PASSWORD_FILE CERT_FILE BGP -- UNIT CONFIG PORT PEER_ADDRESS ...
#   e.g.  … /etc/openvpn/server/meshctl/management.pass /etc/openvpn/server/meshctl/hq.crt 0 -- \
#             openvpn-server@mesh-branch.service /etc/openvpn/server/mesh-branch.conf 11001 172.19.0.6
# Every name, path, port and address comes from meshctl (src/gateway/layout.ts, the mesh); none is written here.
# PORT is the tunnel's management interface (TCP, 127.0.0.1); PEER_ADDRESS its peer's transit address. BGP is 1
# when the mesh routes with FRR (routing: bgp).
#
# Phase 1 prints what can be read at once, then `ready`. Phase 2 reads lines `probe TARGET SOURCE DESTINATION`
# from stdin (TARGET a gateway name, SOURCE and DESTINATION IPv4 addresses) until a line `go` or the end of
# stdin, runs those LAN probes in parallel, prints them, and ends with `end`. The pings of the peers' transit
# addresses start first, in the background, so they overlap the wait for stdin.
#
# Read-only: it never writes, creates, starts, stops or reloads anything (no temporary file either: shell
# variables and pipes only). The management password is read from PASSWORD_FILE by bash and written to the
# socket by its builtin printf: it is never in an argv and never printed. A missing or failing tool is reported
# in the output, never fatal: exit 0 after `end`; any other exit, or no `end`, means the read itself failed.
#
# Output: one record per line; fields are separated by a TAB; the last field is the rest of the line:
#   status 1                                  format version, always first
#   time EPOCH                                the gateway's clock, `date +%s`
#   addr LINE                                 each `ip -4 -o addr show` line
#   addr-unavailable DETAIL                   no `ip`, or it failed
#   cert LINE                                 each line of CERT_FILE (the gateway's own certificate, public PEM)
#   cert-end | cert-unreadable
#   unit KEY=VALUE                            `systemctl show` of every tunnel unit (Id, LoadState, ActiveState,
#   unit-end                                  SubState, MainPID, StatusText); unit-end closes one unit's block
#   systemd-unavailable DETAIL
#   config UNIT present|absent                the tunnel's config file is there
#   mgmt UNIT ROUND UPTIME                    a management conversation begins (ROUND `first`: state and status;
#                                             `last`, at the very end: status again, to see the received bytes
#                                             grow, only where `first` succeeded); UPTIME is the gateway's
#                                             monotonic clock (/proc/uptime, seconds)
#   mgmt-line UNIT ROUND LINE                 each line OpenVPN answered (carriage return removed)
#   mgmt-end UNIT ROUND                       it answered everything and closed
#   mgmt-failed UNIT ROUND DETAIL             no bash, no timeout, not listening, no prompt, password file
#                                             unreadable or refused, cut short, timed out (3 s)
#   bgp-summary LINE                          with BGP=1: each line of `show bgp ipv4 unicast summary json`
#   bgp-summary-end | bgp-unavailable DETAIL
#   ready                                     phase 1 is over: probes are read from stdin now
#   probe-refused LINE                        a stdin line that is neither a valid probe nor `go`
#   probe TARGET SOURCE DESTINATION EXIT OUT  `ping -c 3 -i 0.2 -W 1 -q -I SOURCE DESTINATION`: its exit status
#                                             and its output, lines joined by ` | `
#   route TARGET SOURCE DESTINATION EXIT OUT  `ip -4 route get DESTINATION from SOURCE`, the same way
#   bgp-routes LINE                           with BGP=1 and a probe: each line of `show bgp ipv4 unicast json`
#   bgp-routes-end | bgp-routes-unavailable DETAIL
#   ping UNIT PEER_ADDRESS EXIT OUT           `ping -c 5 -i 0.2 -W 1 -q PEER_ADDRESS` (started at the beginning)
#   end

# sbin directories first: a non-root login's PATH often lacks them (sudo's secure_path may not).
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH}
LC_ALL=C
export PATH LC_ALL
# no pathname expansion: the words split below (tunnels, probe lines read from stdin) are never file patterns
set -f

usage() {
  echo "meshctl-status: expected PASSWORD_FILE CERT_FILE BGP -- UNIT CONFIG PORT PEER_ADDRESS ..." >&2
  exit 2
}
[ "$#" -ge 4 ] && [ "$4" = -- ] || usage
PASSWORD_FILE=$1
CERT_FILE=$2
BGP=$3
shift 4
[ $(($# % 4)) -eq 0 ] || usage
case $BGP in 0 | 1) ;; *) usage ;; esac
# Names hold no space or glob character (checked by meshctl): word splitting of $tunnels is intended.
tunnels=$*

TAB=$(printf '\t')
CR=$(printf '\r')

# record TAG [FIELD ...]: one output line, written with ONE printf (fields never contain a newline).
record() {
  _record=$1
  shift
  for field in "$@"; do _record="$_record$TAB$field"; done
  printf '%s\n' "$_record"
}

# Command output flattened to one field: lines joined by ` | `, TABs and carriage returns made spaces.
one_line() {
  tr '\t\r' '  ' | sed -e ':a' -e '$!N' -e '$!ba' -e 's/\n/ | /g' -e 's/ *$//'
}

have() {
  command -v "$1" >/dev/null 2>&1
}

# The gateway's monotonic clock in seconds (two decimals), or `-` where /proc is not mounted.
uptime_now() {
  if read -r up _idle </proc/uptime 2>/dev/null; then printf '%s' "$up"; else printf '%s' -; fi
}

is_ipv4() {
  case $1 in
  *[!0-9.]* | *..* | .* | *. | '') return 1 ;;
  esac
  old_ifs=$IFS
  IFS=.
  # shellcheck disable=SC2086
  set -- $1
  IFS=$old_ifs
  [ "$#" -eq 4 ] || return 1
  for octet in "$@"; do
    [ "${#octet}" -le 3 ] && [ "$octet" -le 255 ] || return 1
  done
}

# The management conversation, in bash (its /dev/tcp, `read -t`, `read -d` and builtin printf): connect to
# 127.0.0.1:PORT, wait for the password prompt, send the password read from PASSWORD_FILE, then each of COMMANDS
# (words) after the END of the previous one's answer (OpenVPN drops a command that arrives while it answers
# another), then `quit`; every line of the answers is printed. Exit status: 0 all read, 3 not listening, 4 password
# file unreadable, 5 no prompt, 6 password refused, 7 cut short.
# shellcheck disable=SC2016
MGMT='unit=$1 round=$2 port=$3 file=$4 commands=$5
exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 3
IFS= read -r pw <"$file" || [ -n "$pw" ] || exit 4
IFS= read -r -d : -t 2 prompt <&3 || exit 5
case $prompt in *"ENTER PASSWORD") ;; *) exit 5 ;; esac
printf "%s\n" "$pw" >&3
pw=
IFS= read -r -d : -t 2 answer <&3 || exit 6
case $answer in *SUCCESS) IFS= read -r -t 2 answer <&3 || exit 7 ;; *) exit 6 ;; esac
for command in $commands; do
  printf "%s\n" "$command" >&3
  while :; do
    IFS= read -r -t 2 line <&3 || exit 7
    line=${line%$'\''\r'\''}
    printf "mgmt-line\t%s\t%s\t%s\n" "$unit" "$round" "$line"
    case $line in END) break ;; esac
  done
done
printf "quit\n" >&3'

# talk ROUND COMMANDS: one conversation with each tunnel's OpenVPN, one tunnel after the other (a management
# interface takes one client at a time; each conversation takes milliseconds, at most 3 s when it hangs). The
# last round skips the tunnels whose first conversation failed (" UNIT " in $failed).
failed=' '
talk() {
  round=$1
  commands=$2
  # shellcheck disable=SC2086
  set -- $tunnels
  while [ "$#" -ge 4 ]; do
    case $round$failed in last*" $1 "*)
      shift 4
      continue
      ;;
    esac
    record mgmt "$1" "$round" "$(uptime_now)"
    if [ -z "$has_bash" ]; then
      record mgmt-failed "$1" "$round" "bash is not installed (its /dev/tcp talks to OpenVPN)"
      failed="$failed$1 "
    elif [ -z "$has_timeout" ]; then
      record mgmt-failed "$1" "$round" "timeout (coreutils) is not installed"
      failed="$failed$1 "
    else
      timeout 3 bash -c "$MGMT" meshctl-status-mgmt "$1" "$round" "$3" "$PASSWORD_FILE" "$commands" \
        </dev/null 2>/dev/null
      code=$?
      case $code in
      0) record mgmt-end "$1" "$round" ;;
      *) failed="$failed$1 " ;;
      esac
      case $code in
      0) ;;
      3) record mgmt-failed "$1" "$round" "nothing listens on 127.0.0.1:$3 (OpenVPN not running, or its config has no management line)" ;;
      4) record mgmt-failed "$1" "$round" "cannot read $PASSWORD_FILE" ;;
      5) record mgmt-failed "$1" "$round" "127.0.0.1:$3 did not ask for a password" ;;
      6) record mgmt-failed "$1" "$round" "127.0.0.1:$3 refused the password of $PASSWORD_FILE" ;;
      7) record mgmt-failed "$1" "$round" "127.0.0.1:$3 stopped answering" ;;
      124 | 137) record mgmt-failed "$1" "$round" "127.0.0.1:$3 timed out" ;;
      *) record mgmt-failed "$1" "$round" "the conversation with 127.0.0.1:$3 failed" ;;
      esac
    fi
    shift 4
  done
}

# The pings of every peer's transit address, all at once, each printing ONE line into the pipe that the main
# part reads at its end (a write of one short line is atomic: lines never mix).
transit_pings() {
  # shellcheck disable=SC2086
  set -- $tunnels
  while [ "$#" -ge 4 ]; do
    (
      out=$(ping -c 5 -i 0.2 -W 1 -q "$4" 2>&1)
      code=$?
      record ping "$1" "$4" "$code" "$(printf '%s\n' "$out" | one_line)"
    ) &
    shift 4
  done
  wait
}

# phase 2: one probe, printing its records as ONE write (probes run in parallel)
probe() {
  out=$(ping -c 3 -i 0.2 -W 1 -q -I "$2" "$3" 2>&1)
  code=$?
  ping_line=$(record probe "$1" "$2" "$3" "$code" "$(printf '%s\n' "$out" | one_line)")
  out=$(ip -4 route get "$3" from "$2" 2>&1)
  code=$?
  printf '%s\n%s\n' "$ping_line" "$(record route "$1" "$2" "$3" "$code" "$(printf '%s\n' "$out" | one_line)")"
}

# vtysh_framed TAG COMMAND: FRR's JSON, one record per line, then TAG-end (or the unavailable record).
vtysh_framed() {
  tag=$1
  missing=$2
  if ! have vtysh; then
    record "$missing" "vtysh is not installed"
    return
  fi
  if out=$(vtysh -c "$3" 2>&1 </dev/null); then
    printf '%s\n' "$out" | while IFS= read -r line || [ -n "$line" ]; do record "$tag" "${line%"$CR"}"; done
    record "$tag-end"
  else
    record "$missing" "$(printf '%s\n' "$out" | one_line)"
  fi
}

has_bash=
has_timeout=
have bash && has_bash=1
have timeout && has_timeout=1

# fd 3: the probes on stdin; the main part's own stdin is the pipe of the transit pings (fd 4 there).
exec 3<&0
transit_pings </dev/null | {
  exec 4<&0 </dev/null
  record status 1
  record time "$(date +%s)"

  if have ip && addresses=$(ip -4 -o addr show 2>&1); then
    printf '%s\n' "$addresses" | while IFS= read -r line; do [ -n "$line" ] && record addr "$line"; done
  else
    record addr-unavailable "$(printf '%s\n' "${addresses:-ip (iproute2) is not installed}" | one_line)"
  fi

  if [ -r "$CERT_FILE" ]; then
    while IFS= read -r line || [ -n "$line" ]; do record cert "$line"; done <"$CERT_FILE"
    record cert-end
  else
    record cert-unreadable
  fi

  # shellcheck disable=SC2086
  set -- $tunnels
  units=
  while [ "$#" -ge 4 ]; do
    units="$units $1"
    if [ -f "$2" ]; then record config "$1" present; else record config "$1" absent; fi
    shift 4
  done
  if [ -n "$units" ]; then
    # shellcheck disable=SC2086
    if have systemctl && shown=$(systemctl show --no-pager -p Id -p LoadState -p ActiveState -p SubState \
      -p MainPID -p StatusText -- $units 2>&1); then
      printf '%s\n' "$shown" | while IFS= read -r line; do
        if [ -z "$line" ]; then record unit-end; else record unit "$line"; fi
      done
      record unit-end
    else
      record systemd-unavailable "$(printf '%s\n' "${shown:-systemctl is not installed}" | one_line)"
    fi
  fi

  talk first 'state status'
  if [ "$BGP" = 1 ]; then
    vtysh_framed bgp-summary bgp-unavailable 'show bgp ipv4 unicast summary json'
  fi
  record ready

  # phase 2: the probes meshctl asks for, once it has read the addresses above
  probes=
  while IFS= read -r line <&3 || [ -n "$line" ]; do
    case $line in go) break ;; esac
    # shellcheck disable=SC2086
    set -- $line
    if [ "$#" -eq 4 ] && [ "$1" = probe ] && is_ipv4 "$3" && is_ipv4 "$4" &&
      case $2 in [a-z0-9]*) case $2 in *[!a-z0-9-]*) false ;; *) true ;; esac ;; *) false ;; esac; then
      probes="$probes $2 $3 $4"
    else
      record probe-refused "$(printf '%s\n' "$line" | one_line)"
    fi
    line=
  done
  if [ -n "$probes" ]; then
    # shellcheck disable=SC2086
    set -- $probes
    results=$(
      while [ "$#" -ge 3 ]; do
        probe "$1" "$2" "$3" &
        shift 3
      done
      wait
    )
    printf '%s\n' "$results"
    if [ "$BGP" = 1 ]; then
      vtysh_framed bgp-routes bgp-routes-unavailable 'show bgp ipv4 unicast json'
    fi
  fi

  # the transit pings (all done once their pipe ends), then the received bytes again
  cat <&4
  talk last status
  record end
}
exit 0
