#!/bin/bash
# notify: true makes the worker Type=notify: it is up only after READY=1, and the next
# sibling starts only then. The example worker sends READY=1 after 6 seconds.
# vm-timeout: 300
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

result=$(vigil_apply <<YAML
tier: tier_2
trees:
  ready:
    children:
      - name: slow
        command: [$VIGIL_WORKER_BIN, --ready-after, "6"]
        notify: true
      - {name: next, command: [$VIGIL_WORKER_BIN]}
YAML
)
assert_eq config-applied "$result" "reload result"
wait_for 60 bash -c '[ "$(systemctl show -p ActiveState --value vigil-ready-slow.service)" = activating ]'
assert_eq notify "$(unit_prop vigil-ready-slow.service Type)" "Type"
[[ $(unit_prop vigil-ready-next.service ActiveState) != active ]] || fail "next started before slow was ready"
pass_step "slow is activating (no READY=1 yet); next not started"
wait_unit_active vigil-ready-next.service 90
ready_at=$(unit_prop vigil-ready-slow.service ActiveEnterTimestampMonotonic)
next_at=$(unit_prop vigil-ready-next.service ExecMainStartTimestampMonotonic)
echo "slow active at ${ready_at}us, next started at ${next_at}us"
((next_at >= ready_at)) || fail "next started before slow sent READY=1"
pass_step "next started only after READY=1"
