#!/bin/bash
# A notify worker that is a shell script running as nobody signals readiness and pings the
# watchdog with systemd-notify (a child of the shell): NotifyAccess=all, scoped by PID 1 to
# the worker's own cgroup. One that stops pinging is killed by the watchdog and restarted
# with that reason; with notify_access: main the same script cannot get ready.
# vm-timeout: 300
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

result=$(vigil_apply <<'YAML'
tier: tier_2
trees:
  n:
    intensity: {max_restarts: 20, period: 60s}
    children:
      - name: shell
        command: [/bin/sh, -c, "sleep 1; systemd-notify --ready; while :; do systemd-notify WATCHDOG=1; sleep 1; done"]
        user: nobody
        notify: true
        watchdog: 4s
      - name: quiet
        command: [/bin/sh, -c, "systemd-notify --ready; sleep 1000"]
        user: nobody
        notify: true
        watchdog: 4s
        backoff: {initial: 30s, jitter: 0}
  m:
    children:
      - name: strict
        command: [/bin/sh, -c, "systemd-notify --ready; sleep 1000"]
        user: nobody
        notify: true
        notify_access: main
        start_timeout: 5s
        backoff: {initial: 30s, jitter: 0}
YAML
)
assert_eq config-applied "$result" "reload result"
u=vigil-n-shell.service
wait_unit_active $u 90
assert_eq all "$(unit_prop $u NotifyAccess)" "NotifyAccess"
assert_eq nobody "$(ps -o user= -p "$(main_pid $u)")" "user"
pid=$(main_pid $u)
wait_for 60 bash -c "journalctl -q _SYSTEMD_UNIT=vigild.service VIGIL_EVENT=worker-exited VIGIL_UNIT=vigil-n-quiet.service VIGIL_REASON=watchdog -o cat | grep -q ."
pass_step "the quiet worker (READY=1, no pings) was killed by the watchdog: reason watchdog"
sleep 6
assert_eq "$pid" "$(main_pid $u)" "the pinging shell worker's MainPID"
assert_eq 0 "$(count_events worker-exited $u)" "exits of the pinging shell worker"
pass_step "the shell worker got ready and its watchdog pings kept it alive"

wait_for 60 bash -c "journalctl -q _SYSTEMD_UNIT=vigild.service VIGIL_EVENT=worker-start-failed VIGIL_UNIT=vigil-m-strict.service -o cat | grep -q 'timed out\|timeout'"
pass_step "with notify_access: main the same script cannot report READY=1 (start timed out)"
