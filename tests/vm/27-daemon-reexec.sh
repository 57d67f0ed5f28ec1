#!/bin/bash
# systemd upgrades run `systemctl daemon-reexec` (PID 1 comes back under a new bus name)
# and `daemon-reload`. Workers survive both, and vigild keeps supervising: it
# re-subscribes, so a worker killed afterwards is still restarted.
# vm-timeout: 300
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

vigil_start_single_worker
u=vigil-t-w.service
pid=$(main_pid $u)
vpid=$(main_pid vigild.service)

systemctl daemon-reload
systemctl daemon-reexec
wait_unit_active $u 30
assert_eq "$pid" "$(main_pid $u)" "worker MainPID across daemon-reload and daemon-reexec"
assert_eq "$vpid" "$(main_pid vigild.service)" "vigild MainPID across daemon-reexec"
pass_step "worker and vigild untouched by daemon-reload + daemon-reexec"

safe_kill KILL "$pid"
wait_pid_changes $u "$pid" 90
pass_step "a worker killed after the reexec is still restarted by vigild"

# A worker that dies while PID 1 re-executes: the signals PID 1 sends while it is off the
# bus are lost, and vigild compares its units with PID 1's list once PID 1 is back.
pid=$(main_pid $u)
safe_kill KILL "$pid"
systemctl daemon-reexec
wait_pid_changes $u "$pid" 90
pass_step "a worker killed as PID 1 re-executes is restarted"
