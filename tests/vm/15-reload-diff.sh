#!/bin/bash
# systemctl reload vigild applies only the difference: unchanged workers keep running
# untouched, changed ones are replaced, removed ones stopped, new ones started.
# vm-timeout: 300
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

result=$(vigil_apply <<YAML
tier: tier_2
trees:
  r:
    children:
      - {name: keep, command: [$VIGIL_WORKER_BIN]}
      - {name: change, command: [$VIGIL_WORKER_BIN]}
      - {name: drop, command: [$VIGIL_WORKER_BIN]}
YAML
)
assert_eq config-applied "$result" "reload result"
for w in keep change drop; do wait_unit_active vigil-r-$w.service 90; done
keep=$(main_pid vigil-r-keep.service)
change=$(main_pid vigil-r-change.service)

result=$(vigil_apply <<YAML
tier: tier_2
trees:
  r:
    children:
      - {name: keep, command: [$VIGIL_WORKER_BIN]}
      - {name: change, command: [$VIGIL_WORKER_BIN, --ready-after, "0"]}
      - {name: add, command: [$VIGIL_WORKER_BIN]}
YAML
)
assert_eq config-applied "$result" "reload result"
wait_unit_active vigil-r-add.service 90
wait_pid_changes vigil-r-change.service "$change" 90
wait_for 60 bash -c '[[ $(systemctl show -p ActiveState --value vigil-r-drop.service) =~ ^(inactive|failed)$ ]]'
assert_eq "$keep" "$(main_pid vigil-r-keep.service)" "unchanged worker MainPID"
pass_step "unchanged kept, changed replaced, removed stopped, new started"
