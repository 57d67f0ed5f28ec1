#!/bin/bash
# A worker runs as a transient service in the slice of its tree, with its limits visible
# in its own cgroup (memory.max, pids.max, cpu.max, memory.high, cpu.weight), the same in
# systemd's view, and its argv passed verbatim (no $VAR expansion, no word splitting).
# vm-timeout: 300
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

result=$(vigil_apply <<YAML
tier: tier_2
trees:
  lim:
    children:
      - name: w
        command: [$VIGIL_WORKER_BIN, '\$HOME', '\${FOO}', 'two words', '%n']
        environment: {FOO: expanded}
        limits: {memory_max: 64M, memory_high: 48M, tasks_max: 32, cpu_quota: 50%, cpu_weight: 50}
        stop: {signal: SIGINT, timeout: 7s}
YAML
)
assert_eq config-applied "$result" "reload result"
u=vigil-lim-w.service
wait_unit_active $u 90
pass_step "$u is active"

assert_eq /vigil.slice/vigil-lim.slice/$u "$(unit_prop $u ControlGroup)" "ControlGroup"
assert_eq 67108864 "$(cgroup_file $u memory.max)" "memory.max"
assert_eq 50331648 "$(cgroup_file $u memory.high)" "memory.high"
assert_eq 32 "$(cgroup_file $u pids.max)" "pids.max"
assert_eq "50000 100000" "$(cgroup_file $u cpu.max)" "cpu.max"
assert_eq 50 "$(cgroup_file $u cpu.weight)" "cpu.weight"
pass_step "cgroup files carry the limits"

assert_eq 67108864 "$(unit_prop $u MemoryMax)" "MemoryMax"
assert_eq 32 "$(unit_prop $u TasksMax)" "TasksMax"
assert_eq 500ms "$(unit_prop $u CPUQuotaPerSecUSec)" "CPUQuotaPerSecUSec"
assert_eq no "$(unit_prop $u Restart)" "Restart (vigild owns restarts)"
assert_eq control-group "$(unit_prop $u KillMode)" "KillMode"
assert_eq yes "$(unit_prop $u Transient)" "Transient"
assert_eq 2 "$(unit_prop $u KillSignal)" "KillSignal (SIGINT)"
assert_eq 7s "$(unit_prop $u TimeoutStopUSec)" "TimeoutStopUSec"
assert_eq exec "$(unit_prop $u Type)" "Type"
pass_step "systemd agrees (MemoryMax, TasksMax, CPUQuota, Restart=no, KillMode)"

pid=$(main_pid $u)
mapfile -d '' argv < /proc/"$pid"/cmdline
assert_eq 5 "${#argv[@]}" "argument count"
assert_eq '$HOME' "${argv[1]}" "argv[1]"
assert_eq '${FOO}' "${argv[2]}" "argv[2]"
assert_eq 'two words' "${argv[3]}" "argv[3]"
assert_eq '%n' "${argv[4]}" "argv[4]"
grep -qz '^FOO=expanded$' /proc/"$pid"/environ || fail "environment FOO not set"
pass_step "argv verbatim, environment set"

journalctl -q -u $u -o cat --output-fields=VIGIL_WORKER -n 20 | grep -x 'lim/w' >/dev/null ||
    fail "worker journal lines lack VIGIL_WORKER=lim/w"
pass_step "worker output in the journal carries VIGIL_WORKER"
