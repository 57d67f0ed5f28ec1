#!/bin/bash
# vigilctl reset revives a failed tree with a fresh intensity window; freeze sets the
# worker's cgroup.freeze to 1 (status: frozen, not restarted), thaw resumes it with the
# same MainPID; freeze of a supervisor freezes its slice; kill signals the whole cgroup by
# default and only the main process with --main.
# vm-timeout: 400
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

vigil_start_ctl_tree 3
u=vigil-app-w@1.service
pid=$(main_pid $u)
ctl_expect 0 freeze app/w@1
assert_eq 1 "$(cgroup_file $u cgroup.freeze)" "cgroup.freeze after freeze"
wait_for 10 bash -c "grep -q 'frozen 1' /sys/fs/cgroup\$(systemctl show -p ControlGroup --value $u)/cgroup.events"
assert_eq frozen "$(vigil_field workers app/w@1 state)" "status state"
[[ -n $(vigil_field workers app/w@1 frozen_since_realtime_usec) ]] || fail "status does not say since when"
vigilctl status app/w@1 | grep -q "Frozen since:" || fail "the detail view does not say since when"
sleep 3
assert_eq "$pid" "$(main_pid $u)" "MainPID while frozen"
ctl_expect 0 thaw app/w@1
assert_eq 0 "$(cgroup_file $u cgroup.freeze)" "cgroup.freeze after thaw"
assert_eq "$pid" "$(main_pid $u)" "MainPID after thaw"
assert_eq running "$(vigil_field workers app/w@1 state)" "status after thaw"
pass_step "freeze sets cgroup.freeze=1 (status frozen, since when), thaw resumes the same process"

ctl_expect 0 freeze app/sub
assert_eq 1 "$(cat /sys/fs/cgroup/vigil.slice/vigil-app.slice/vigil-app-sub.slice/cgroup.freeze)" "slice cgroup.freeze"
ctl_expect 0 thaw app/sub
assert_eq 0 "$(cat /sys/fs/cgroup/vigil.slice/vigil-app.slice/vigil-app-sub.slice/cgroup.freeze)" "slice cgroup.freeze after thaw"
pass_step "freeze and thaw of a supervisor act on its slice"

# kill --main: only the shell gets SIGUSR1 (prints got-usr1 and carries on).
pid=$(main_pid vigil-app-a.service)
ctl_expect 0 kill -s USR1 --main app/a
wait_for 10 bash -c 'vigilctl logs app/a -n 5 | grep -q got-usr1'
assert_eq "$pid" "$(main_pid vigil-app-a.service)" "a after kill -s USR1 --main"
# kill (whole cgroup) with SIGKILL: a crash, restarted by vigild.
ctl_expect 0 kill -s KILL app/a
wait_pid_changes vigil-app-a.service "$pid" 30
[[ $(count_events restart-scheduled vigil-app-a.service) -ge 1 ]] || fail "the killed worker was not restarted"
pass_step "kill --main signals the main process; kill -s KILL is a crash vigild restarts"

# A failed tree: a worker that always exits, intensity 1 in 1 min.
cat <<YAML | vigil_apply >/dev/null
tier: tier_2
trees:
  doomed:
    intensity: {max_restarts: 1, period: 1min}
    children:
      - name: crash
        command: [$VIGIL_WORKER_BIN, --exit-after, "0.5", --exit-code, "3"]
        backoff: {initial: 100ms, max: 200ms, jitter: 0}
YAML
_doomed_failed() { [[ $(vigil_field supervisors doomed state) == failed ]]; }
wait_for 60 _doomed_failed
ctl_expect 1 start doomed
grep -q "reset" <<<"$ctl_err" || fail "start of a failed tree does not point at reset: $ctl_err"
starts=$(count_events worker-starting vigil-doomed-crash.service)
ctl_expect 0 reset doomed --no-block
_started_again() { (($(count_events worker-starting vigil-doomed-crash.service) > starts)); }
wait_for 30 _started_again
journal_since_test _SYSTEMD_UNIT=vigild.service VIGIL_EVENT=operator-command -o cat | grep -q "reset" ||
    fail "no operator-command event for the reset"
ctl_expect 2 reset doomed/crash
pass_step "reset starts a failed tree afresh; reset of a worker is refused"
