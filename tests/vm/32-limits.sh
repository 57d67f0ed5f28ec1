#!/bin/bash
# limits.runtime_max, nofile and core reach the worker: after its runtime the worker is
# stopped by systemd and restarted by vigild with reason runtime-limit; /proc/PID/limits
# shows the open-files and core-size limits.
# vm-timeout: 300
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

result=$(vigil_apply <<'YAML'
tier: tier_2
trees:
  l:
    intensity: {max_restarts: 20, period: 60s}
    children:
      - name: w
        command: [/bin/sleep, infinity]
        restart: transient
        backoff: {initial: 500ms, jitter: 0}
        limits: {runtime_max: 6s, nofile: "4096:8192", core: 0}
YAML
)
assert_eq config-applied "$result" "reload result"
u=vigil-l-w.service
wait_unit_active $u 90
pid=$(main_pid $u)
grep -E '^Max (open files|core file size)' /proc/$pid/limits
[[ $(grep '^Max open files' /proc/$pid/limits) =~ ^Max\ open\ files\ +4096\ +8192\ +files ]] || fail "open files limit is not 4096/8192"
[[ $(grep '^Max core file size' /proc/$pid/limits) =~ ^Max\ core\ file\ size\ +0\ +0\ +bytes ]] || fail "core file size limit is not 0"
assert_eq 6s "$(unit_prop $u RuntimeMaxUSec)" "RuntimeMaxUSec"
pass_step "/proc/$pid/limits: open files 4096/8192, core 0; RuntimeMaxUSec=6s"

wait_pid_changes $u "$pid" 90
reason=$(vigil_event_field worker-exited $u VIGIL_REASON)
assert_eq runtime-limit "$reason" "exit reason"
msg=$(vigil_event_field worker-exited $u MESSAGE)
echo "event: $msg"
[[ $msg == *"runtime limit of 6s (runtime_max)"* ]] || fail "the event does not name the runtime limit: $msg"
[[ $(vigil_event_field restart-scheduled $u VIGIL_REASON) == runtime-limit ]] || fail "no restart with reason runtime-limit"
pass_step "stopped after 6 s with reason runtime-limit, restarted by vigild (transient: not a clean exit)"
