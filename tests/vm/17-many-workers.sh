#!/bin/bash
# 200 instances of one worker: they start concurrently (one group), with at most ~100
# D-Bus calls in flight, and none is lost: all 200 units end up active, each in the slice.
# (Start-up time is measured by bench/, not asserted here.)
# vm-timeout: 420
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

result=$(vigil_apply <<YAML
tier: tier_2
trees:
  many:
    children:
      - name: w
        command: [/usr/bin/sleep, infinity]
        instances: 200
        limits: {memory_max: 16M, tasks_max: 4}
YAML
)
assert_eq config-applied "$result" "reload result"
_all_active() {
    local n
    n=$(systemctl list-units --plain --no-legend --state=active 'vigil-many-w@*.service' | wc -l)
    echo "active: $n" >&2
    ((n == 200))
}
wait_for 300 _all_active
assert_eq 200 "$(ls -d /sys/fs/cgroup/vigil.slice/vigil-many.slice/vigil-many-w@*.service | wc -l)" "worker cgroups"
assert_eq 0 "$(count_events worker-start-failed)" "failed starts"
pass_step "200 instances active, none failed"

# Removing them stops them all.
assert_eq config-applied "$(vigil_single_worker_config | vigil_apply)" "reload result"
_none_left() {
    local n
    n=$(systemctl list-units --plain --no-legend --state=active,activating,deactivating 'vigil-many-w@*.service' | wc -l)
    ((n == 0))
}
wait_for 300 _none_left
pass_step "all 200 stopped after removal"
