#!/bin/bash
# Kill the middle child of three under each strategy and check that exactly the right
# units restart (MainPIDs before and after): one_for_one restarts b only, one_for_all
# a, b and c, rest_for_one b and c.
# vm-timeout: 400
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

cfg="tier: tier_2
trees:"
for s in one_for_one one_for_all rest_for_one; do
    cfg+="
  $s:
    strategy: $s
    intensity: {max_restarts: 10, period: 60s}
    children:"
    for c in a b c; do
        cfg+="
      - {name: $c, command: [$VIGIL_WORKER_BIN], backoff: {initial: 200ms, jitter: 0}}"
    done
done
assert_eq config-applied "$(vigil_apply <<<"$cfg")" "reload result"

declare -A expect=([one_for_one]="kept restarted kept" [one_for_all]="restarted restarted restarted"
    [rest_for_one]="kept restarted restarted")
for s in one_for_one one_for_all rest_for_one; do
    declare -A before=()
    for c in a b c; do
        wait_unit_active vigil-$s-$c.service 90
        before[$c]=$(main_pid vigil-$s-$c.service)
    done
    safe_kill KILL "${before[b]}"
    wait_pid_changes vigil-$s-b.service "${before[b]}" 90
    # Give the strategy time to finish: all three active again.
    for c in a b c; do wait_unit_active vigil-$s-$c.service 90; done
    sleep 2
    got=""
    for c in a b c; do
        now=$(main_pid vigil-$s-$c.service)
        if [[ $now == "${before[$c]}" ]]; then got+="kept "; else got+="restarted "; fi
    done
    assert_eq "${expect[$s]}" "${got% }" "$s: which children restarted (a b c)"
    pass_step "$s: ${got% }"
done
wait_for 30 bash -c "journalctl -q _SYSTEMD_UNIT=vigild.service VIGIL_EVENT=strategy-applied VIGIL_TREE=one_for_all -o cat | grep -c . >/dev/null"
