#!/bin/sh
# ipmi_sim's chassis_control hook for fencebox's tests. ipmi_sim runs it as
#   power-hook.sh DIR get power          -> prints "power:0" or "power:1"
#   power-hook.sh DIR set power 0|1      (power down / up; a cycle is set 0, then set 1)
#   power-hook.sh DIR set reset 1 | set shutdown 1 | set boot X | set identify A B
# The state is DIR/power; every call the BMC makes is appended to DIR/chassis.log with a
# timestamp, so tests can see what the BMC did and in which order.
dir=$1 op=$2
shift 2 || exit 1
[ -f "$dir/power" ] || echo 1 >"$dir/power"
note() { echo "$(date +%s.%N) $*" >>"$dir/chassis.log"; }
case $op in
get)
  for what in "$@"; do
    case $what in
      power) v=$(cat "$dir/power"); note "get power $v"; echo "power:$v" ;;
      boot) echo "boot:default" ;;
      *) echo "unknown: $what"; exit 1 ;;
    esac
  done ;;
set)
  while [ $# -ge 2 ]; do
    what=$1 v=$2; shift 2
    case $what in
      power) note "set power $v"; echo "$v" >"$dir/power" ;;
      shutdown) note "set shutdown $v"; echo 0 >"$dir/power" ;;
      reset) note "set reset $v" ;;
      boot) note "set boot $v" ;;
      identify) shift ;;
      *) echo "unknown: $what"; exit 1 ;;
    esac
  done ;;
*) exit 1 ;;
esac
exit 0
