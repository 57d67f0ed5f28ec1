#!/bin/bash
# kill -9 of a worker's main process: vigild sees the exit through D-Bus, logs it with
# its cause, and restarts the worker (new MainPID) after its backoff.
# vm-timeout: 300
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

vigil_start_single_worker
u=vigil-t-w.service
old=$(main_pid $u)
safe_kill KILL "$old"
pass_step "killed $u main PID $old"
wait_pid_changes $u "$old" 90
new=$(main_pid $u)
pass_step "restarted: MainPID $old -> $new"

wait_for 30 bash -c "journalctl -q _SYSTEMD_UNIT=vigild.service VIGIL_EVENT=worker-exited VIGIL_UNIT=$u VIGIL_REASON=signal -o cat | grep -q 'killed by SIGKILL'"
wait_for 30 bash -c "journalctl -q _SYSTEMD_UNIT=vigild.service VIGIL_EVENT=restart-scheduled VIGIL_UNIT=$u -o cat | grep -q 'restarting in'"
pass_step "journal: worker-exited (killed by SIGKILL) and restart-scheduled events"
vigil_events VIGIL_UNIT=$u
