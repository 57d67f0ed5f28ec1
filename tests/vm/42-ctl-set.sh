#!/bin/bash
# vigilctl set changes limits live through SetUnitProperties: memory.max of the worker's
# cgroup changes while its MainPID stays the same; on a supervisor the slice's budget
# changes; infinity removes a limit; bad values are refused (exit 2) and change nothing;
# a reload puts the file's limits back.
# vm-timeout: 300
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

vigil_start_ctl_tree 3
u=vigil-app-w@2.service
pid=$(main_pid $u)
assert_eq max "$(cgroup_file $u memory.max)" "memory.max before"
ctl_expect 0 set app/w@2 memory_max=32M tasks_max=64
grep -q "lasts until the next reload" <<<"$ctl_out" || fail "no lifetime note: $ctl_out"
assert_eq $((32 << 20)) "$(cgroup_file $u memory.max)" "memory.max after set"
assert_eq 64 "$(cgroup_file $u pids.max)" "pids.max after set"
assert_eq "$pid" "$(main_pid $u)" "MainPID after set"
assert_eq $((32 << 20)) "$(vigil_field workers app/w@2 memory_max_bytes)" "status memory_max_bytes"
assert_eq max "$(cgroup_file vigil-app-w@1.service memory.max)" "the other instances"
pass_step "set memory_max=32M: memory.max of the cgroup changes, same MainPID"

ctl_expect 0 set app/w@2 memory_max=infinity
assert_eq max "$(cgroup_file $u memory.max)" "memory.max after infinity"
pass_step "infinity removes the limit"

ctl_expect 0 set app/sub memory_max=256M cpu_quota=50%
assert_eq $((256 << 20)) "$(cat /sys/fs/cgroup/vigil.slice/vigil-app.slice/vigil-app-sub.slice/memory.max)" "slice memory.max"
assert_eq "50000 100000" "$(cat /sys/fs/cgroup/vigil.slice/vigil-app.slice/vigil-app-sub.slice/cpu.max)" "slice cpu.max"
assert_eq $((256 << 20)) "$(vigil_field supervisors app/sub memory_max_bytes)" "status budget"
pass_step "set on a supervisor changes its slice's budget"

ctl_expect 2 set app/w@2 memory_max=lots
ctl_expect 2 set app/w@2 runtime_max=5s
ctl_expect 4 set app/nope memory_max=1G
assert_eq max "$(cgroup_file $u memory.max)" "memory.max after refused sets"
pass_step "bad values and unknown targets are refused and change nothing"

ctl_expect 0 set app/w@1 memory_max=48M
assert_eq config-applied "$(vigil_ctl_config 3 | vigil_apply)" "reload result"
wait_for 30 bash -c "[[ \$(cat /sys/fs/cgroup\$(systemctl show -p ControlGroup --value vigil-app-w@1.service)/memory.max) == max ]]"
wait_for 30 bash -c '[[ $(cat /sys/fs/cgroup/vigil.slice/vigil-app.slice/vigil-app-sub.slice/memory.max) == max ]]'
pass_step "a reload puts the configured limits back (worker and slice)"
