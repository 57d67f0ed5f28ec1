#!/bin/bash
# Fault 5 (docs/RELIABILITY.md): a crash loop. The backoff delays grow as configured
# (1 s, 2 s, 4 s: initial 1s, multiplier 2, no jitter), the nested supervisor's intensity
# is exceeded and escalates, the root tree ends failed; vigild stays ready and keeps
# feeding its watchdog meanwhile; `vigilctl reset` revives the tree.
# vm-timeout: 300
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

touch /run/vigil-test-crash
assert_eq config-applied "$(vigil_apply <<YAML
tier: tier_2
trees:
  cl:
    strategy: one_for_one
    intensity: {max_restarts: 0, period: 1min}
    children:
      - name: steady
        command: [$VIGIL_WORKER_BIN]
      - name: inner
        strategy: one_for_one
        intensity: {max_restarts: 3, period: 1min}
        children:
          - name: x
            command: [/bin/sh, -c, 'sleep 0.3; if [ -e /run/vigil-test-crash ]; then exit 3; fi; exec $VIGIL_WORKER_BIN']
            backoff: {initial: 1s, multiplier: 2, max: 30s, jitter: 0}
YAML
)" "reload result"
vpid=$(main_pid vigild.service)
wd1=$(unit_prop vigild.service WatchdogTimestampMonotonic)
_failed() { [[ $(vigil_field supervisors cl state) == failed ]]; }
wait_for 90 _failed
delays=$(journal_since_test _SYSTEMD_UNIT=vigild.service VIGIL_EVENT=restart-scheduled VIGIL_UNIT=vigil-cl-inner-x.service -o json |
    python3 -c 'import json,sys; print(" ".join(str(int(json.loads(l)["VIGIL_DELAY_USEC"]) // 1000) for l in sys.stdin))')
assert_eq "1000 2000 4000" "$delays" "backoff delays (ms)"
journal_since_test _SYSTEMD_UNIT=vigild.service VIGIL_EVENT=intensity-exceeded VIGIL_SUPERVISOR=cl/inner -o cat | grep -q . ||
    fail "no intensity-exceeded event for cl/inner"
journal_since_test _SYSTEMD_UNIT=vigild.service VIGIL_EVENT=escalated -o cat | grep -q . || fail "no escalated event"
journal_since_test _SYSTEMD_UNIT=vigild.service VIGIL_EVENT=tree-failed VIGIL_TREE=cl -o cat | grep -q . || fail "no tree-failed event"
[[ $(unit_prop vigil-cl-steady.service ActiveState) != active ]] || fail "the failed tree's steady worker still runs"
pass_step "delays 1/2/4 s, intensity exceeded, escalated, tree cl failed"

assert_eq "$vpid" "$(main_pid vigild.service)" "vigild's PID (it stayed up)"
vigil_is_ready || fail "vigild is not ready"
sleep 9 # more than a watchdog tick (WatchdogSec=30s: fed every 7.5 s)
wd2=$(unit_prop vigild.service WatchdogTimestampMonotonic)
((wd2 > wd1)) || fail "the watchdog was not fed ($wd1 -> $wd2)"
pass_step "vigild stayed up, ready, its watchdog fed"

rm -f /run/vigil-test-crash
ctl_expect 0 reset cl
wait_unit_active vigil-cl-inner-x.service 60
wait_unit_active vigil-cl-steady.service 60
_running() { [[ $(vigil_field supervisors cl state) == running ]]; }
wait_for 60 _running
pass_step "vigilctl reset revived the tree"
assert_eq config-applied "$(printf 'tier: tier_2\ntrees: {}\n' | vigil_apply)" "clean up"
