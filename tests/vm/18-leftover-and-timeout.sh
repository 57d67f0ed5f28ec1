#!/bin/bash
# Two start-up hazards:
# - a failed leftover unit already holds the worker's name (systemd refuses a second unit
#   of that name: UnitExists); vigild resets it and starts the worker anyway;
# - a notify worker that never sends READY=1 fails its start after start_timeout
#   (TimeoutStartUSec, Result=timeout), reported with reason "timeout".
# vm-timeout: 300
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

systemd-run --unit=vigil-left-w.service -p CollectMode=inactive /bin/false || true
wait_for 30 bash -c '[ "$(systemctl show -p ActiveState --value vigil-left-w.service)" = failed ]'
pass_step "a failed vigil-left-w.service lingers"

result=$(vigil_apply <<YAML
tier: tier_2
trees:
  left:
    children:
      - {name: w, command: [$VIGIL_WORKER_BIN]}
  late:
    intensity: {max_restarts: 10, period: 10min}
    children:
      - name: never
        command: [$VIGIL_WORKER_BIN, --ready-after, "100000"]
        notify: true
        start_timeout: 3s
        backoff: {initial: 30s, jitter: 0}
YAML
)
assert_eq config-applied "$result" "reload result"
wait_unit_active vigil-left-w.service 90
[[ $(unit_prop vigil-left-w.service LogExtraFields) == *VIGIL_SPEC=* ]] || fail "vigil-left-w.service is not vigild's unit"
pass_step "leftover reset; vigild's worker runs under that name"

assert_eq 3s "$(unit_prop vigil-late-never.service TimeoutStartUSec)" "TimeoutStartUSec"
_timeout_logged() {
    journal_since_test _SYSTEMD_UNIT=vigild.service VIGIL_EVENT=worker-start-failed \
        VIGIL_UNIT=vigil-late-never.service VIGIL_REASON=timeout -o cat | grep . >/dev/null
}
wait_for 120 _timeout_logged
journal_since_test _SYSTEMD_UNIT=vigild.service VIGIL_UNIT=vigil-late-never.service -o cat
pass_step "start timeout reported with reason timeout"
