#!/bin/bash
# A worker that exceeds memory_max is OOM-killed by the kernel and restarted by vigild
# with reason oom-kill.
# vm-timeout: 300
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

result=$(vigil_apply <<YAML
tier: tier_2
trees:
  mem:
    children:
      - name: hog
        command: [$VIGIL_WORKER_BIN, --grow-mb-per-sec, "16"]
        limits: {memory_max: 32M}
        backoff: {initial: 2s, jitter: 0}
YAML
)
assert_eq config-applied "$result" "reload result"
u=vigil-mem-hog.service
wait_unit_active $u 90
_oom_logged() {
    journal_since_test _SYSTEMD_UNIT=vigild.service VIGIL_EVENT=worker-exited VIGIL_UNIT=$u \
        VIGIL_REASON=oom-kill -o cat | grep 'OOM killer' >/dev/null
}
wait_for 120 _oom_logged
wait_for 60 bash -c "journalctl -q _SYSTEMD_UNIT=vigild.service VIGIL_EVENT=worker-starting VIGIL_UNIT=$u VIGIL_REASON=restart -o cat | grep . >/dev/null"
wait_unit_active $u 60
pass_step "OOM kill recorded with reason oom-kill; worker restarted"
