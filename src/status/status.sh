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
#   probe TARGET SOURCE DESTINATION EXIT OUT  `ping -c 3 -i 0.05 -W 1 -q -I SOURCE DESTINATION`: its exit status
#                                             and its output, lines joined by ` | `
#   route TARGET SOURCE DESTINATION EXIT OUT  `ip -4 route get DESTINATION from SOURCE`, the same way
#   bgp-routes LINE                           with BGP=1 and a probe: each line of `show bgp ipv4 unicast json`
#   bgp-routes-end | bgp-routes-unavailable DETAIL
#   ping UNIT PEER_ADDRESS EXIT OUT           `ping -c 5 -i 0.05 -W 1 -q PEER_ADDRESS` (started at the beginning)
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
# one_line TEXT, with builtins only (a status read runs it dozens of times): splitting with IFS, with globbing off
# (set -f above); runs of blanks become one space.
NL='
'
one_line() {
  _ol_ifs=$IFS
  IFS=$NL
  # shellcheck disable=SC2086
  set -- $1
  _ol_out=
  for _ol_line in "$@"; do
    IFS=" $TAB$CR"
    # shellcheck disable=SC2086
    set -- $_ol_line
    _ol_line="$*"
    [ -n "$_ol_line" ] && _ol_out="${_ol_out:+$_ol_out | }$_ol_line"
  done
  IFS=$_ol_ifs
  printf '%s' "$_ol_out"
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

# The management conversations, in ONE bash process for every tunnel (its /dev/tcp, `read -t`, `read -d` and builtin
# printf; one process, not one per tunnel: a read of a big mesh's gateway must not spawn dozens): for each
# `UNIT PORT`, connect to 127.0.0.1:PORT, wait for the password prompt, send the password read from PASSWORD_FILE,
# then each of COMMANDS (words) after the END of the previous one's answer (OpenVPN drops a command that arrives
# while it answers another), then `quit`. Each conversation prints `mgmt`, its answer's lines and `mgmt-end` or
# `mgmt-failed` (the reason), each line in one write, and the unit of a failed one on fd 5. Every read waits at
# most 2 s and an answer is at most 200 lines; localhost connects or is refused at once.
# shellcheck disable=SC2016
MGMT='round=$1 file=$2 commands=$3
shift 3
T=$'"'"'\t'"'"'
uptime() { local up idle; if read -r up idle </proc/uptime 2>/dev/null; then printf %s "$up"; else printf %s -; fi; }
failed() { printf "mgmt-failed$T%s$T%s$T%s\n" "$unit" "$round" "$1"; printf "%s " "$unit" >&5; exec 3>&-; }
talk() {
  local pw prompt answer line command n
  exec 3<>"/dev/tcp/127.0.0.1/$port" 2>/dev/null || {
    failed "nothing listens on 127.0.0.1:$port (OpenVPN not running, or its config has no management line)"
    return
  }
  IFS= read -r pw <"$file" || [ -n "$pw" ] || { failed "cannot read $file"; return; }
  IFS= read -r -d : -t 2 prompt <&3 || { failed "127.0.0.1:$port did not ask for a password"; return; }
  case $prompt in *"ENTER PASSWORD") ;; *) failed "127.0.0.1:$port did not ask for a password"; return ;; esac
  printf "%s\n" "$pw" >&3
  pw=
  IFS= read -r -d : -t 2 answer <&3 || { failed "127.0.0.1:$port stopped answering"; return; }
  case $answer in
  *SUCCESS) IFS= read -r -t 2 answer <&3 || { failed "127.0.0.1:$port stopped answering"; return; } ;;
  *) failed "127.0.0.1:$port refused the password of $file"; return ;;
  esac
  n=0
  for command in $commands; do
    printf "%s\n" "$command" >&3
    while :; do
      IFS= read -r -t 2 line <&3 || { failed "127.0.0.1:$port stopped answering"; return; }
      line=${line%$'"'"'\r'"'"'}
      printf "mgmt-line$T%s$T%s$T%s\n" "$unit" "$round" "$line"
      n=$((n + 1))
      [ "$n" -le 200 ] || { failed "127.0.0.1:$port answered too much"; return; }
      case $line in END) break ;; esac
    done
  done
  printf "quit\n" >&3
  exec 3>&-
  printf "mgmt-end$T%s$T%s\n" "$unit" "$round"
}
while [ "$#" -ge 2 ]; do
  unit=$1 port=$2
  shift 2
  printf "mgmt$T%s$T%s$T%s\n" "$unit" "$round" "$(uptime)"
  talk
done'

# talk ROUND COMMANDS: the conversations with every tunnel's OpenVPN (see MGMT); the last round skips the tunnels
# whose first conversation failed (" UNIT " in $failed). Without bash or timeout, each tunnel says so.
failed=' '
talk() {
  round=$1
  commands=$2
  pairs=
  # shellcheck disable=SC2086
  set -- $tunnels
  while [ "$#" -ge 4 ]; do
    case $round$failed in last*" $1 "*) ;;
    *) pairs="$pairs $1 $3" ;;
    esac
    shift 4
  done
  [ -n "$pairs" ] || return 0
  if [ "$round" = first ]; then
    # the password goes only to the tunnel's own OpenVPN: the process listening on 127.0.0.1:PORT must be the
    # unit's main process (any local user may bind a free port while a unit restarts)
    checked=
    # shellcheck disable=SC2086
    set -- $pairs
    while [ "$#" -ge 2 ]; do
      main=$(WANTED_UNIT=$1 main_pid)
      holder=$(listener_pid "$2")
      if [ -n "$main" ] && [ "$main" != 0 ] && [ "$holder" = "$main" ]; then
        checked="$checked $1 $2"
      elif [ -z "$holder" ] && [ -n "$listeners_read" ]; then
        record mgmt "$1" "$round" "$(uptime_now)"
        record mgmt-failed "$1" "$round" "nothing listens on 127.0.0.1:$2 (OpenVPN not running, or its config has no management line)"
        printf '%s ' "$1" >&5
      else
        record mgmt "$1" "$round" "$(uptime_now)"
        if [ -z "$listeners_read" ]; then
          record mgmt-failed "$1" "$round" "cannot tell who listens on 127.0.0.1:$2 (ss failed): the password is not sent"
        else
          record mgmt-failed "$1" "$round" "127.0.0.1:$2 is held by process $holder, not by $1 (main process ${main:-unknown}): the password is not sent"
        fi
        printf '%s ' "$1" >&5
      fi
      shift 2
    done
    pairs=$checked
    [ -n "$pairs" ] || return 0
  fi
  if [ -z "$has_bash" ] || [ -z "$has_timeout" ]; then
    missing='bash is not installed (its /dev/tcp talks to OpenVPN)'
    [ -n "$has_bash" ] && missing='timeout (coreutils) is not installed'
    # shellcheck disable=SC2086
    set -- $pairs
    while [ "$#" -ge 2 ]; do
      record mgmt "$1" "$round" "$(uptime_now)"
      record mgmt-failed "$1" "$round" "$missing"
      printf '%s ' "$1" >&5
      shift 2
    done
    return 0
  fi
  # the whole round is bounded too: 3 s per tunnel at the very most
  # shellcheck disable=SC2086
  set -- $pairs
  timeout $(($# / 2 * 3 + 2)) bash -c "$MGMT" meshctl-status-mgmt "$round" "$PASSWORD_FILE" "$commands" $pairs \
    </dev/null 2>/dev/null
}

# main_pid UNIT: its MainPID from the `systemctl show` read above ($shown: blank-line separated blocks, properties
# in systemd's order), empty when unknown.
main_pid() {
  _mp_ifs=$IFS
  IFS=$NL
  # shellcheck disable=SC2086
  set -- $shown "" 
  IFS=$_mp_ifs
  _mp_id=
  _mp_pid=
  for _mp_line in "$@"; do
    case $_mp_line in
    Id=*) _mp_id=${_mp_line#Id=} ;;
    MainPID=*) _mp_pid=${_mp_line#MainPID=} ;;
    esac
    if [ -n "$_mp_id" ] && [ -n "$_mp_pid" ]; then
      if [ "$_mp_id" = "$WANTED_UNIT" ]; then
        printf '%s' "$_mp_pid"
        return
      fi
      _mp_id=
      _mp_pid=
    fi
  done
}

# listener_pid PORT: the process listening on 127.0.0.1:PORT (TCP), from the `ss` read above ($listeners).
listener_pid() {
  _lp_port=$1
  _lp_ifs=$IFS
  IFS=$NL
  # shellcheck disable=SC2086
  set -- $listeners
  IFS=$_lp_ifs
  for _lp_line in "$@"; do
    case $_lp_line in
    *" 127.0.0.1:$_lp_port "*pid=*)
      _lp_rest=${_lp_line#*pid=}
      printf '%s' "${_lp_rest%%,*}"
      return
      ;;
    esac
  done
}

# The pings of every peer's transit address, all at once, each printing ONE line into the pipe that the main
# part reads at its end (a write of one short line is atomic: lines never mix).
transit_pings() {
  # shellcheck disable=SC2086
  set -- $tunnels
  while [ "$#" -ge 4 ]; do
    (
      out=$(ping -c 5 -i 0.05 -W 1 -q "$4" 2>&1)
      code=$?
      # exit 2 with nothing sent: an unprivileged ping refuses intervals under 0.2 s
      if [ "$code" = 2 ]; then
        out=$(ping -c 5 -i 0.2 -W 1 -q "$4" 2>&1)
        code=$?
      fi
      record ping "$1" "$4" "$code" "$(one_line "$out")"
    ) &
    shift 4
  done
  wait
}

# phase 2: one probe, printing its records as ONE write (probes run in parallel)
probe() {
  out=$(ping -c 3 -i 0.05 -W 1 -q -I "$2" "$3" 2>&1)
  code=$?
  if [ "$code" = 2 ]; then
    out=$(ping -c 3 -i 0.2 -W 1 -q -I "$2" "$3" 2>&1)
    code=$?
  fi
  ping_line=$(record probe "$1" "$2" "$3" "$code" "$(one_line "$out")")
  out=$(ip -4 route get "$3" from "$2" 2>&1)
  code=$?
  printf '%s\n%s\n' "$ping_line" "$(record route "$1" "$2" "$3" "$code" "$(one_line "$out")")"
}

# vtysh_framed TAG COMMAND: FRR's JSON, one record per line, then TAG-end (or the unavailable record).
vtysh_framed() {
  tag=$1
  missing=$2
  if ! have vtysh; then
    record "$missing" "vtysh is not installed"
    return
  fi
  # a stuck FRR must not hold the read: 5 s at most when timeout is there
  if out=$(${has_timeout:+timeout 5} vtysh -c "$3" 2>&1 </dev/null); then
    printf '%s\n' "$out" | while IFS= read -r line || [ -n "$line" ]; do record "$tag" "${line%"$CR"}"; done
    record "$tag-end"
  else
    record "$missing" "$(one_line "$out")"
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
    record addr-unavailable "$(one_line "${addresses:-ip (iproute2) is not installed}")"
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
    if have systemctl && shown=$(${has_timeout:+timeout 5} systemctl show --no-pager -p Id -p LoadState -p ActiveState -p SubState \
      -p MainPID -p StatusText -- $units 2>&1); then
      printf '%s\n' "$shown" | while IFS= read -r line; do
        if [ -z "$line" ]; then record unit-end; else record unit "$line"; fi
      done
      record unit-end
    else
      record systemd-unavailable "$(one_line "${shown:-systemctl is not installed}")"
    fi
  fi

  # who listens where (TCP), once, to check each management port's holder before the password goes to it
  listeners=
  listeners_read=
  if have ss && listeners=$(ss -Hltnp 2>/dev/null); then listeners_read=1; fi
  exec 6>&1
  failed=" $(talk first 'state status' 5>&1 >&6) "

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
      record probe-refused "$(one_line "$line")"
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
  talk last status 5>/dev/null
  record end
}
exit 0
