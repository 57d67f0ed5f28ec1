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

# Restart in place: the failed unit stays loaded through the backoff (CollectMode=inactive,
# listed by systemctl --failed meanwhile) and is started again with StartUnit, so its
# transient unit file is not written anew. A failed unit that will not be restarted (an
# operator's stop during the backoff) is reset: nothing lingers.
assert_eq config-applied "$(vigil_apply <<YAML
tier: tier_2
trees:
  ip:
    children:
      - name: w
        command: [/usr/bin/sleep, infinity]
        backoff: {initial: 4s, max: 4s, jitter: 0}
YAML
)" "reload result"
u=vigil-ip-w.service
wait_unit_active $u 90
file=/run/systemd/transient/$u
inode=$(stat -c %i "$file")
old=$(main_pid $u)
safe_kill KILL "$old"
wait_for 10 bash -c "[ \"\$(systemctl show -p ActiveState --value $u)\" = failed ]"
systemctl list-units --failed --plain --no-legend | grep -q "^$u" || fail "$u is not listed as failed during its backoff"
wait_pid_changes $u "$old" 30
assert_eq "$inode" "$(stat -c %i "$file")" "inode of $file across the restart (a new transient unit would rewrite it)"
pass_step "restarted in place: failed through its 4 s backoff, then StartUnit on the same unit"

old=$(main_pid $u)
safe_kill KILL "$old"
wait_for 10 bash -c "[ \"\$(systemctl show -p ActiveState --value $u)\" = failed ]"
vigilctl stop ip/w
wait_for 20 bash -c "! systemctl list-units --failed --plain --no-legend | grep -q '^$u'"
assert_eq inactive "$(unit_prop $u ActiveState)" "ActiveState after the stop during the backoff"
sleep 6
assert_eq inactive "$(unit_prop $u ActiveState)" "ActiveState once the backoff would have ended"
pass_step "a stop during the backoff resets the failed unit: nothing lingers, nothing restarts"
