#!/bin/bash
# vigilctl stop/start/restart on workers and trees: an operator's stop leaves the unit
# inactive, is not restarted (10 s) and not counted; start brings it back; restart gives a
# new MainPID without counting; a stopped tree stops its children in reverse start order
# and starts them in order. Every command is an event naming the caller.
# vm-timeout: 400
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

vigil_start_ctl_tree 3
window_before=$(vigil_field supervisors app restarts_in_window)
ctl_expect 0 stop app/a
assert_eq "app/a is stopped" "$ctl_out" "stop output"
assert_eq inactive "$(unit_prop vigil-app-a.service ActiveState)" "unit state after stop"
sleep 10
assert_eq inactive "$(unit_prop vigil-app-a.service ActiveState)" "unit state 10 s after stop"
assert_eq stopped "$(vigil_field workers app/a state)" "worker state"
assert_eq 0 "$(count_events restart-scheduled vigil-app-a.service)" "restarts scheduled"
assert_eq "$window_before" "$(vigil_field supervisors app restarts_in_window)" "restarts in window"
journal_since_test _SYSTEMD_UNIT=vigild.service VIGIL_EVENT=operator-command VIGIL_CALLER="uid 0" -o cat |
    grep "app/a" || fail "no operator-command event naming uid 0"
journal_since_test _SYSTEMD_UNIT=vigild.service VIGIL_EVENT=worker-stopping VIGIL_REASON=operator -o cat |
    grep "app/a" || fail "no worker-stopping event with reason operator"
pass_step "stop: inactive, not restarted after 10 s, not counted, event names the caller"

ctl_expect 0 start app/a
wait_unit_active vigil-app-a.service 30
assert_eq running "$(vigil_field workers app/a state)" "worker state after start"
pid=$(main_pid vigil-app-w@1.service)
ctl_expect 0 restart app/w@1
wait_pid_changes vigil-app-w@1.service "$pid" 30
assert_eq "$window_before" "$(vigil_field supervisors app restarts_in_window)" "restarts in window after restart"
assert_eq 0 "$(vigil_field workers app/w@1 consecutive_failures)" "failures after restart"
pass_step "start brings it back; restart gives a new MainPID and is not counted"

# A whole tree: stop in reverse start order (sub/y, sub/x, w@*, a), then start in order.
ctl_expect 0 stop app
for u in vigil-app-a vigil-app-w@1 vigil-app-w@2 vigil-app-w@3 vigil-app-sub-x vigil-app-sub-y; do
    assert_eq inactive "$(unit_prop $u.service ActiveState)" "$u after stopping the tree"
done
assert_eq stopped "$(vigil_field supervisors app state)" "tree state"
order=$(journal_since_test _SYSTEMD_UNIT=vigild.service VIGIL_EVENT=worker-stopped -o json |
    python3 -c 'import json,sys; print(" ".join(json.loads(l)["VIGIL_WORKER"] for l in sys.stdin))')
echo "stop order: $order"
python3 - "$order" <<'PY' || fail "the tree did not stop in reverse start order: $order"
import sys
seen = sys.argv[1].split()
last = [w for w in seen if w in ("app/a", "app/w@1", "app/w@2", "app/w@3", "app/sub/x", "app/sub/y")][-6:]
pos = {w: i for i, w in enumerate(last)}
assert pos["app/sub/y"] < pos["app/sub/x"] < min(pos["app/w@1"], pos["app/w@2"], pos["app/w@3"])
assert max(pos["app/w@1"], pos["app/w@2"], pos["app/w@3"]) < pos["app/a"]
PY
sleep 5
[[ -z $(vigil_worker_units active | grep '^vigil-app-' || true) ]] || fail "a worker of the stopped tree came back"
ctl_expect 0 start app
for u in vigil-app-a vigil-app-w@1 vigil-app-w@2 vigil-app-w@3 vigil-app-sub-x vigil-app-sub-y; do
    wait_unit_active $u.service 30
done
assert_eq running "$(vigil_field supervisors app state)" "tree state after start"
pass_step "a stopped tree stops in reverse order, stays down, and starts again in order"

ctl_expect 0 stop --no-block app/a
grep -q "not waiting" <<<"$ctl_out" || fail "--no-block output: $ctl_out"
wait_for 30 bash -c '[[ $(systemctl show -p ActiveState --value vigil-app-a.service) == inactive ]]'
pass_step "--no-block returns before the operation ends"
