#!/bin/bash
# Stopping vigil as a whole follows the tree, as OTP shutdown does: every supervisor stops
# its children in reverse start order, each with its own stop timeout, a nested supervisor
# all of its children before its previous sibling. `systemctl stop vigil.target` (also what
# shutdown does: vigil-workers.target conflicts with shutdown.target).
# vm-timeout: 300
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

vigil_install_stoplog
B=/usr/local/bin/vigil-test-stoplog
result=$(vigil_apply <<YAML
tier: tier_2
trees:
  o:
    strategy: rest_for_one
    children:
      - {name: c1, command: [$B, c1, exit]}
      - {name: c2, command: [$B, c2, ignore], stop: {timeout: 3s}}
      - name: sub
        strategy: one_for_all
        children:
          - {name: s1, command: [$B, s1, exit]}
          - {name: s2, command: [$B, s2, exit]}
      - {name: c3, command: [$B, c3, exit]}
YAML
)
assert_eq config-applied "$result" "reload result"
wait_unit_active vigil-o-c3.service 120
wait_for 30 bash -c '[ "$(grep -c START /run/vigil-order.log)" = 5 ]'  # each has set its trap
# Start order as PID 1 recorded it (the exec of each main process). Not the workers' own
# START lines: a worker is up once its process runs, and under TCG one shell can reach its
# first line after the next sibling's has.
start_order=$(for w in c1 c2 sub-s1 sub-s2 c3; do
    echo "$(unit_prop "vigil-o-$w.service" ExecMainStartTimestampMonotonic) ${w#sub-}"
done | sort -n | awk '{print $2}' | xargs)
assert_eq "c1 c2 s1 s2 c3" "$start_order" "start order"
[[ $(unit_prop vigil-o-c1.service Before) == *vigil-workers.target* ]] || fail "worker not ordered Before=vigil-workers.target"
[[ $(unit_prop vigil-o-c1.service After) != *vigild.service* && $(unit_prop vigil-o-c1.service Before) != *vigild.service* ]] ||
    fail "a worker is ordered against vigild.service"

systemctl stop vigil.target
wait_for 120 bash -c '! systemctl is-active --quiet vigild.service'
wait_for 60 bash -c '[ -z "$(systemctl list-units --plain --no-legend --state=active,activating,deactivating "vigil-o-*.service")" ]'
cat /run/vigil-order.log
assert_eq "c3 s2 s1 c2 c1" "$(order_of TERM)" "stop order"
# Each stop waited for the previous one: s2 after c3 exited, ..., c1 after c2 was killed at
# the end of its own 3 s stop timeout.
python3 - "$(time_of c3 EXIT)" "$(time_of s2 TERM)" "$(time_of s1 EXIT)" "$(time_of c2 TERM)" "$(time_of c1 TERM)" <<'PY' || fail "a stop did not wait for the previous one"
import sys
c3_exit, s2_term, s1_exit, c2_term, c1_term = map(float, sys.argv[1:])
assert s2_term >= c3_exit, (s2_term, c3_exit)
assert c2_term >= s1_exit, (c2_term, s1_exit)
assert c1_term >= c2_term + 3.0, (c1_term, c2_term)
print("c2 TERM at %.2f, c1 TERM at %.2f: %.2f s later (c2's stop timeout: 3 s)" % (c2_term, c1_term, c1_term - c2_term))
PY
assert_eq 0 "$(count_events restart-scheduled)" "restarts during the stop"
[[ $(count_events worker-stopping) -ge 5 ]] || fail "vigild did not stop the workers itself"
pass_step "reverse order per supervisor, nested supervisor as a whole, own stop timeouts"

systemctl start vigil.target
wait_unit_active vigild.service 120
wait_unit_active vigil-workers.target 30
wait_unit_active vigil-o-c3.service 120
pass_step "vigil.target started again: the tree is back"
