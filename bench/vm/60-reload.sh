#!/bin/bash
# Scenario 7 of bench/README.md: a reload that changes 1 of N workers (the largest size):
# the time from `vigilctl reload` to the changed worker's new process, and the check that
# the N-1 others kept their MainPID.
# vm-timeout: 3600
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"
. "$(dirname "$0")/bench-lib.sh"

n=${BENCH_SIZES##* }
X=/run/bench/reload
config() { # ARG of the changed worker
    instances_config $((n - 1))
    printf '  one:\n    children:\n      - name: x\n        command: [%s, stamp, %s, %s]\n' "$TOOL" "$X" "$1"
}
vigil_empty
clear_stamps
mkdir -p $X
find $X -type f -delete
assert_eq config-applied "$(config a | vigil_apply)" "reload result"
wait_stamps $((n - 1)) >/dev/null
wait_for 120 bash -c "[ -n \"\$(ls $X)\" ]"
sleep "$BENCH_SETTLE"
pids() { # "Id=... MainPID=..." per worker unit, sorted
    systemctl show -p Id -p MainPID 'vigil-bench-w@*.service' | python3 -c '
import sys
blocks = [b for b in sys.stdin.read().strip().split("\n\n") if b]
print("\n".join(sorted(" ".join(sorted(b.split("\n"))) for b in blocks)))'
}
before=$(pids)
old_x=$(ls $X)
config b | vigil_write_config
t0=$(now_ns)
vigilctl reload >/tmp/reload.out || fail "vigilctl reload failed: $(cat /tmp/reload.out)"
t_reload=$(now_ns)
wait_for 120 bash -c "[ \$(ls $X | grep -vc '^$old_x\$') -ge 1 ]"
new_x=$(ls $X | grep -v "^$old_x\$" | grep -v '\.tmp$' | head -n 1)
bench "reload_${n}_one_changed_command_ms $(ms_between "$t0" "$t_reload")"
bench "reload_${n}_one_changed_restarted_ms $(ms_between "$t0" "$(cat "$X/$new_x")")"
after=$(pids)
unchanged=$(comm -12 <(echo "$before") <(echo "$after") | wc -l)
bench "reload_${n}_mainpids_unchanged $unchanged"
assert_eq $((n - 1)) "$unchanged" "workers with the same MainPID after the reload"
cat /tmp/reload.out
vigil_empty
pass_step "reload of 1 of $n workers measured"
