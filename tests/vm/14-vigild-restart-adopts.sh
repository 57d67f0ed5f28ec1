#!/bin/bash
# Restarting vigild (as a package upgrade does) neither stops nor restarts workers: the new
# vigild re-adopts them, and still supervises them afterwards.
# vm-timeout: 300
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

vigil_start_single_worker
u=vigil-t-w.service
pid=$(main_pid $u)
inv=$(unit_prop $u InvocationID)
systemctl restart vigild.service
wait_unit_active vigild.service 120
assert_eq "$pid" "$(main_pid $u)" "worker MainPID across a vigild restart"
assert_eq "$inv" "$(unit_prop $u InvocationID)" "worker InvocationID across a vigild restart"
wait_for 30 bash -c "journalctl -q _SYSTEMD_UNIT=vigild.service VIGIL_EVENT=worker-adopted VIGIL_UNIT=$u -o cat | grep -q adopted"
pass_step "worker adopted, not restarted"

# SIGKILL of vigild itself: systemd restarts it (Restart=on-failure); workers stay.
vpid=$(main_pid vigild.service)
safe_kill KILL "$vpid"
wait_pid_changes vigild.service "$vpid" 120
wait_unit_active vigild.service 120
assert_eq "$pid" "$(main_pid $u)" "worker MainPID across a vigild crash"
pass_step "vigild crash: restarted by systemd, worker kept"

safe_kill KILL "$pid"
wait_pid_changes $u "$pid" 90
pass_step "the re-adopted worker is still supervised (restarted after kill -9)"
