#!/bin/sh
# The reference beside fence_nut in bench/run.py: the same work done with NUT's own
# clients (upsc, upscmd), reading fence_nut's stdin options. status reads the outlet;
# reboot runs the tracked off (upscmd -w), reads until off, the tracked on, reads until on
# (one read per second, as fence_nut's stonith_status_sleep). Bench only: upscmd takes the
# password on its command line.
while IFS='=' read -r k v; do
  case $k in
    action) action=$v ;; ip) ip=$v ;; ipport) port=$v ;; ups_name) ups=$v ;;
    plug) plug=$v ;; username) user=$v ;; password) pass=$v ;;
  esac
done
dev="$ups@$ip:$port"
state() { upsc "$dev" "outlet.$plug.status" 2>/dev/null; }
switch() {
  upscmd -w -u "$user" -p "$pass" "$dev" "outlet.$plug.load.$1" >/dev/null 2>&1 || exit 1
  i=0
  until [ "$(state)" = "$1" ]; do
    i=$((i + 1)); [ $i -gt 20 ] && exit 1
    sleep 1
  done
}
case $action in
  status) s=$(state); echo "Status: $s"; [ "$s" = on ] && exit 0; [ "$s" = off ] && exit 2; exit 1 ;;
  reboot) switch off; switch on; echo "Success: Rebooted" ;;
  *) exit 1 ;;
esac
