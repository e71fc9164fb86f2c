# meshctl fetch: the current content of some files, for `meshctl diff`. Read-only.
#
# Usage:  sh -c "$(cat fetch-old.sh)" meshctl-fetch PATH ...
#
# Only non-secret files are ever asked for. Content travels base64-encoded so any byte survives.
# Output, one block per path, then `end`:
#   content PATH            followed by base64 lines, then `content-end` (`-` is not a base64 character)
#   absent PATH             not a regular file (or gone since the probe)
#   too-large PATH BYTES    over 1 MiB: no diff is shown

PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH}
LC_ALL=C
export PATH LC_ALL

LIMIT=1048576

encode() {
  if command -v base64 >/dev/null 2>&1; then base64 <"$1"; else openssl base64 <"$1"; fi
}

for path in "$@"; do
  if [ ! -f "$path" ]; then
    printf 'absent\t%s\n' "$path"
    continue
  fi
  size=$(wc -c <"$path" | tr -d ' ')
  if [ "$size" -gt "$LIMIT" ]; then
    printf 'too-large\t%s\t%s\n' "$path" "$size"
    continue
  fi
  printf 'content\t%s\n' "$path"
  encode "$path"
  printf 'content-end\n'
done
printf 'end\n'
exit 0
