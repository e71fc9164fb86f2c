# meshctl wait-tunnels: waits ON THE GATEWAY until each tunnel named is up, or a deadline passes.
#
# Usage:  sh -c "$(cat wait-tunnels.sh)" meshctl-wait-tunnels CENTISECONDS INTERVAL COMPLETED -- UNIT ADDRESS ...
#   e.g.  … 6000 0.1 'Initialization Sequence Completed' -- openvpn-server@mesh-branch.service 10.255.0.2
# A tunnel is up when ADDRESS, the peer's transit address, answers a ping through it and its unit's StatusText
# contains COMPLETED (OpenVPN tells systemd READY before its peer answers, so an active unit proves nothing).
# Every tunnel is watched at once: pinged from the start (see watch_tunnel below), its unit asked once it answers,
# INTERVAL seconds between two tries. One remote command replaces a poll over SSH. Every name comes from meshctl;
# none is written here.
#
# Read-only: it never starts, stops or writes anything.
#
# Output, one record per line (fields separated by a space; unit names and addresses hold none):
#   up UNIT          as each tunnel comes up (once per UNIT ADDRESS pair named)
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

# completed UNIT: true when the unit's StatusText says the initialization completed.
completed() {
  case "$(systemctl show --no-pager -p StatusText --value -- "$1" 2>/dev/null)" in
  *"$completed"*) return 0 ;;
  *) return 1 ;;
  esac
}

# watch_tunnel UNIT ADDRESS: pings ADDRESS from the start, before OpenVPN reports anything, until it answers and
# UNIT has completed; prints `up UNIT` then. The echoes are what make the tunnel come up sooner: OpenVPN 2.6 finishes
# its set-up (the data channel's keys, "Initialization Sequence Completed") only when its event loop wakes after a
# whole-second tick, and an idle tunnel sleeps up to a second past it; a packet into the tunnel wakes it. An echo
# sent before the keys exist is dropped by OpenVPN and costs nothing. Exit 1 at the deadline.
watch_tunnel() {
  while :; do
    if pings "$2" && completed "$1"; then
      echo "up $1"
      return 0
    fi
    if [ "$(now)" -ge "$deadline" ]; then return 1; fi
    sleep "$interval" 2>/dev/null || sleep 1
  done
}

# One watcher per tunnel, all at once; their `up` lines are single short writes, so they never interleave. Names
# hold no space or glob character (checked by meshctl), so word splitting of the arguments is intended.
watchers=
trap 'if [ -n "$watchers" ]; then kill $watchers 2>/dev/null; fi; exit 1' HUP INT TERM
while [ "$#" -ge 2 ]; do
  watch_tunnel "$1" "$2" &
  watchers="$watchers $!"
  shift 2
done
all=1
for watcher in $watchers; do
  wait "$watcher" || all=
done
watchers=
if [ -n "$all" ]; then echo end; else echo deadline; fi
exit 0
