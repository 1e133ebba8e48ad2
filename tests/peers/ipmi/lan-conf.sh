#!/bin/sh
# Write an ipmi_sim LAN configuration: lan-conf.sh DIR ADDR PORT > DIR/lan.conf
# Users: 2 admin/password (administrator), 3 operator/oppass (operator),
#        4 viewer/viewpass (user), 5 secretive/Pw-7f3a91-secret (administrator; the
#        secrets test looks for that password in logs and process arguments).
# IPMI 1.5 authentication none, straight password and MD5 are enabled; RMCP+ suites 0-3.
# The satellite controller at 0x82 keeps its power state in DIR/m82 (power, chassis.log).
dir=$1 addr=$2 port=$3
here=$(cd "$(dirname "$0")" && pwd)
cat <<CONF
name "fencebox-bmc"
set_working_mc 0x20
  startlan 1
    addr $addr $port
    priv_limit admin
    allowed_auths_callback none md5 straight
    allowed_auths_user none md5 straight
    allowed_auths_operator none md5 straight
    allowed_auths_admin none md5 straight
    guid 0f1e2d3c4b5a69788796a5b4c3d2e1f0
  endlan
  chassis_control "/bin/sh $here/power-hook.sh $dir"
  user 2 true "admin"    "password" admin    10 none md5 straight
  user 3 true "operator" "oppass"   operator 10 none md5 straight
  user 4 true "viewer"   "viewpass" user     10 none md5 straight
  user 5 true "secretive" "Pw-7f3a91-secret" admin 10 none md5 straight
set_working_mc 0x82
  chassis_control "/bin/sh $here/power-hook.sh $dir/m82"
CONF
