#!/bin/bash
# A crash loop beyond the intensity: the supervisor stops its children, the failure
# escalates from the nested supervisor to the root, and the root tree ends `failed`, with
# the reason, while vigild stays up and the other trees keep running.
# vm-timeout: 300
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

result=$(vigil_apply <<YAML
tier: tier_2
trees:
  calm:
    children:
      - {name: ok, command: [$VIGIL_WORKER_BIN]}
  loop:
    intensity: {max_restarts: 1, period: 5min}
    children:
      - {name: steady, command: [$VIGIL_WORKER_BIN]}
      - name: inner
        intensity: {max_restarts: 2, period: 5min}
        children:
          - name: crasher
            command: [$VIGIL_WORKER_BIN, --exit-after, "1", --exit-code, "3"]
            backoff: {initial: 200ms, max: 1s, jitter: 0}
YAML
)
assert_eq config-applied "$result" "reload result"
_tree_failed() {
    [[ $(vigil_field supervisors loop state) == failed ]]
}
wait_for 240 _tree_failed
pass_step "tree loop is failed"
systemctl is-active --quiet vigild.service || fail "vigild is not active"
wait_unit_active vigil-calm-ok.service 10
for u in vigil-loop-steady vigil-loop-inner-crasher; do
    [[ $(unit_prop $u.service ActiveState) != active ]] || fail "$u still active in a failed tree"
done
[[ $(count_events escalated) -ge 1 ]] || fail "no escalation event"
[[ $(count_events intensity-exceeded) -ge 2 ]] || fail "expected intensity-exceeded for inner and loop"
[[ $(count_events tree-failed) == 1 ]] || fail "expected one tree-failed event"
vigil_events VIGIL_TREE=loop | tail -n 8
vigilctl status | grep -E '^loop +failed' >/dev/null || fail "vigilctl status does not show loop failed"
pass_step "escalated inner -> loop; loop failed; calm still running; vigild alive"
sleep 5
assert_eq 0 "$(vigil_worker_units active | grep -c '^vigil-loop-' || true)" "units of the failed tree running"
