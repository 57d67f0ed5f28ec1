#!/bin/bash
# Scenario 6 of bench/README.md: control latency with N workers (the largest size): the
# round trip of `vigilctl status --json`, `vigilctl status` (the tree) and `vigilctl
# restart` of one worker (it waits until the worker runs again), against one `systemctl
# show` of the same N units, `systemctl status` of one unit and `systemctl restart` of a
# plain unit. Median of 7 each (3 in the quick run), wall time of the command.
# vm-timeout: 3600
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"
. "$(dirname "$0")/bench-lib.sh"

n=${BENCH_SIZES##* }
reps=$((BENCH_QUICK ? 3 : 7))
vigil_empty
clear_stamps
assert_eq config-applied "$(instances_config "$n" | vigil_apply)" "reload result"
wait_stamps "$n" >/dev/null
systemd-run --quiet --unit=bench-ref --property=StartLimitIntervalSec=0 "$TOOL" stamp /run/bench
sleep "$BENCH_SETTLE"

timed() { # KEY COMMAND... — wall time of COMMAND (output discarded), REPS times
    local key=$1 xs=() t0 i
    shift
    for ((i = 0; i < reps; i++)); do
        t0=$(now_ns)
        "$@" >/dev/null || fail "$* failed"
        xs+=("$(ms_between "$t0" "$(now_ns)")")
    done
    stats "$key" "${xs[@]}"
}
timed "control_${n}_vigilctl_status_json_ms" vigilctl status --json
timed "control_${n}_vigilctl_status_ms" vigilctl --no-pager status
timed "control_${n}_systemctl_show_all_ms" systemctl show 'vigil-bench-w@*.service'
timed "control_${n}_systemctl_status_one_ms" systemctl --no-pager status vigil-bench-w@7.service
timed "control_${n}_vigilctl_restart_ms" vigilctl restart bench/w@7
timed "control_${n}_systemctl_restart_ms" systemctl restart bench-ref.service
# The status document must hold every worker (not a truncated answer that is fast).
assert_eq "$n" "$(vigilctl status --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["workers"]))')" "workers in status --json"
systemctl stop bench-ref.service
vigil_empty
pass_step "control latency with $n workers measured"
