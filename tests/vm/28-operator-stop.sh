#!/bin/bash
# An operator's `systemctl stop` of a worker is not a crash: the unit stays stopped, nothing
# is restarted or counted, and the event says what happened. `systemctl restart` of a worker
# is followed (vigild supervises the new process). The stop outlives a restart of vigild
# (docs/RELIABILITY.md); `vigilctl start` brings the worker back.
# vm-timeout: 300
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

vigil_start_single_worker
u=vigil-t-w.service
window() {
    vigil_field supervisors t restarts_in_window
}
before=$(window)
systemctl stop $u
assert_eq inactive "$(unit_prop $u ActiveState)" "state after systemctl stop"
wait_for 30 bash -c "journalctl -q _SYSTEMD_UNIT=vigild.service VIGIL_EVENT=worker-stopped VIGIL_UNIT=$u VIGIL_REASON=stopped-externally -o cat | grep -q 'stopped from outside vigil'"
sleep 10
[[ $(unit_prop $u ActiveState) != active ]] || fail "the worker was started again after an operator stop"
assert_eq 0 "$(count_events restart-scheduled $u)" "restarts scheduled after an operator stop"
assert_eq 0 "$(count_events worker-exited $u)" "worker-exited events for an operator stop"
state=$(vigil_field workers t/w state)
assert_eq stopped "$state" "worker state"
assert_eq "$before" "$(window)" "the tree's restarts in window (the stop is not counted)"
pass_step "systemctl stop: stays stopped 10 s, no restart, not counted"

t=$(date +%s.%N)
vigil_restart_ready
sleep 3
[[ $(unit_prop $u ActiveState) != active ]] || fail "a restart of vigild started the stopped worker"
assert_eq stopped "$(vigil_field workers t/w state)" "worker state after a restart of vigild"
journalctl -q --since="@$t" _SYSTEMD_UNIT=vigild.service VIGIL_EVENT=worker-stopped VIGIL_UNIT=$u VIGIL_REASON=restored -o cat |
    grep -q "stays stopped: stopped by a stop job from outside vigil (systemctl stop) before vigild restarted" ||
    fail "no worker-stopped event with reason restored"
pass_step "the stop outlives a restart of vigild"
ctl_expect 0 start t/w
wait_unit_active $u 60
pass_step "vigilctl start brings the worker back"

pid=$(main_pid $u)
systemctl restart $u
wait_pid_changes $u "$pid" 60
wait_for 30 bash -c "journalctl -q _SYSTEMD_UNIT=vigild.service VIGIL_EVENT=worker-started VIGIL_UNIT=$u VIGIL_REASON=started-externally -o cat | grep -q ."
pid=$(main_pid $u)
safe_kill KILL "$pid"
wait_pid_changes $u "$pid" 60
[[ $(count_events restart-scheduled $u) -ge 1 ]] || fail "vigild did not restart the worker after a kill"
pass_step "systemctl restart of the worker is followed: a later crash is restarted by vigild"
