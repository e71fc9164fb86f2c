# meshctl wait-tunnels: waits ON THE GATEWAY until each tunnel named is up, or a deadline passes.
#
# Usage:  sh -c "$(cat wait-tunnels.sh)" meshctl-wait-tunnels CENTISECONDS INTERVAL COMPLETED -- UNIT ADDRESS ...
#   e.g.  … 6000 0.1 'Initialization Sequence Completed' -- openvpn-server@mesh-branch.service 10.255.0.2
# A tunnel is up when its unit's StatusText contains COMPLETED (OpenVPN tells systemd READY before its peer
# answers, so an active unit proves nothing) and ADDRESS, the peer's transit address, answers a ping through it.
# Each round asks systemctl once for every unit still pending, pings the completed ones in parallel, then sleeps
# INTERVAL seconds: one remote command replaces a poll over SSH. Every name comes from meshctl; none is written here.
#
# Read-only: it never starts, stops or writes anything.
#
# Output, one record per line (fields separated by a space; unit names and addresses hold none):
#   up UNIT          as each tunnel comes up (never twice for one unit)
#   end              every tunnel named is up
#   deadline         CENTISECONDS passed first (the tunnels without an `up` line are down)
# Exit 0 after `end` or `deadline`; any other exit (or no last record) means the check itself failed.

PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH}
LC_ALL=C
export PATH LC_ALL

if [ "$#" -lt 4 ] || [ "$4" != -- ]; then
  echo "meshctl-wait-tunnels: expected CENTISECONDS INTERVAL COMPLETED -- UNIT ADDRESS ..." >&2
  exit 2
fi
limit=$1
interval=$2
completed=$3
shift 4
case $limit in '' | *[!0-9]*)
  echo "meshctl-wait-tunnels: CENTISECONDS must be a whole number, not '$limit'" >&2
  exit 2
  ;;
esac

# Monotonic time in centiseconds, read without starting a process (/proc/uptime has two decimals);
# `date` where /proc is not mounted.
now() {
  if read -r uptime _idle </proc/uptime 2>/dev/null; then
    centis=${uptime%.*}${uptime#*.}
    # no leading zero: sh arithmetic would read the number as octal
    while case $centis in 0?*) true ;; *) false ;; esac; do centis=${centis#0}; done
    echo "$centis"
  else
    echo "$(($(date +%s) * 100))"
  fi
}
deadline=$(($(now) + limit))

# pings ADDRESS: true when it answers within a second. An echo every 0.05 s until the first reply: the peer's end
# may complete a moment after this one (it answers once its own OpenVPN has completed), and one lost echo must not
# cost a whole second. Intervals under 0.2 s are for root only: a ping that refuses one (exit 2) gets 0.2 s, and a
# ping that knows no fractional interval the plain one-echo form.
pings() {
  ping -c 1 -w 1 -i 0.05 "$1" >/dev/null 2>&1
  case $? in
  0) return 0 ;;
  2) ;;
  *) return 1 ;;
  esac
  ping -c 1 -w 1 -i 0.2 "$1" >/dev/null 2>&1
  case $? in
  0) return 0 ;;
  2) ping -c 1 -W 1 "$1" >/dev/null 2>&1 ;;
  *) return 1 ;;
  esac
}

# pending: "UNIT ADDRESS" words, two per tunnel not up yet. Names hold no space or glob character (checked by
# meshctl), so word splitting of $pending is intended.
pending=$*

while :; do
  # shellcheck disable=SC2086
  set -- $pending
  units=
  while [ "$#" -ge 2 ]; do
    units="$units $1"
    shift 2
  done
  # One systemctl call for every pending unit. Its blocks (blank-line separated) list StatusText before Id, so a
  # block is judged at its end. A failing systemctl only means "not up yet": the deadline ends the wait.
  # ready and answered are " UNIT UNIT … ": a unit is in one when " UNIT " is.
  # shellcheck disable=SC2086
  ready=" $(systemctl show --no-pager -p Id -p StatusText -- $units 2>/dev/null | {
    id=
    status=
    while IFS= read -r line || [ -n "$line" ]; do
      case $line in
      Id=*) id=${line#Id=} ;;
      StatusText=*) status=${line#StatusText=} ;;
      '')
        case $status in *"$completed"*) [ -n "$id" ] && printf '%s ' "$id" ;; esac
        id=
        status=
        ;;
      esac
    done
    case $status in *"$completed"*) [ -n "$id" ] && printf '%s ' "$id" ;; esac
  }) "
  # The completed ones: one ping each, all at once.
  # shellcheck disable=SC2086
  set -- $pending
  answered=" $(
    while [ "$#" -ge 2 ]; do
      case $ready in
      *" $1 "*) (pings "$2" && printf '%s ' "$1") & ;;
      esac
      shift 2
    done
    wait
  ) "
  # shellcheck disable=SC2086
  set -- $pending
  pending=
  while [ "$#" -ge 2 ]; do
    case $answered in
    *" $1 "*) echo "up $1" ;;
    *) pending="$pending $1 $2" ;;
    esac
    shift 2
  done
  if [ -z "$pending" ]; then
    echo end
    exit 0
  fi
  if [ "$(now)" -ge "$deadline" ]; then
    echo deadline
    exit 0
  fi
  sleep "$interval" 2>/dev/null || sleep 1
done
