#!/bin/bash
# watchdog: the unit gets WatchdogSec; a worker that stops pinging is killed by systemd
# and vigild restarts it, recording `watchdog` as the reason.
# vm-timeout: 300
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

result=$(vigil_apply <<YAML
tier: tier_2
trees:
  wd:
    children:
      - name: hang
        command: [$VIGIL_WORKER_BIN, --stop-pinging-after, "4"]
        notify: true
        watchdog: 3s
        backoff: {initial: 500ms, jitter: 0}
YAML
)
assert_eq config-applied "$result" "reload result"
u=vigil-wd-hang.service
wait_unit_active $u 90
assert_eq 3s "$(unit_prop $u WatchdogUSec)" "WatchdogUSec"
pid=$(main_pid $u)
_watchdog_logged() {
    journal_since_test _SYSTEMD_UNIT=vigild.service VIGIL_EVENT=worker-exited VIGIL_UNIT=$u \
        VIGIL_REASON=watchdog -o cat | grep 'watchdog timeout' >/dev/null
}
wait_for 120 _watchdog_logged
wait_pid_changes $u "$pid" 90
pass_step "watchdog kill recorded with reason watchdog; worker restarted"
