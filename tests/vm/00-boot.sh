#!/bin/bash
# Smoke test of the VM environment itself (not of vigil): systemd 252 as
# PID 1, pure cgroup v2 with the controllers vigil relies on, dbus running.
# vm-timeout: 120
# shellcheck source=tests/vm/lib.sh
. "$(dirname "$0")/lib.sh"

pid1=$(cat /proc/1/comm)
assert_eq systemd "$pid1" "PID 1 (comm)"
pass_step "PID 1 is systemd"

[[ $(stat -f -c %T /sys/fs/cgroup) == cgroup2fs ]] || fail "/sys/fs/cgroup is not cgroup2"
controllers=$(cat /sys/fs/cgroup/cgroup.controllers)
for c in cpu memory pids io; do
    [[ " $controllers " == *" $c "* ]] || fail "cgroup controller '$c' missing (have: $controllers)"
done
pass_step "cgroup v2 controllers: $controllers"

version=$(systemctl --version | awk 'NR == 1 { print $2 }')
# The VM image is Debian 12 (252); the package's autopkgtest runs this on any testbed.
((version >= 252)) || fail "systemd $version is older than 252"
pass_step "systemd $version"

wait_unit_active dbus.service 30
pass_step "dbus.service is active"
