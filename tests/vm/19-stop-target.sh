#!/bin/bash
# systemctl stop vigil.target stops vigild and every worker, with nothing left in the
# worker cgroups and no restart attempted; starting the target brings them back. (The
# order of the stop is tested in 31-ordered-stop.)
# vm-timeout: 300
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

vigil_start_single_worker
u=vigil-t-w.service
systemctl stop vigil.target
# systemctl returns once the target's own (empty) stop job is done; vigild then stops the
# trees and exits.
wait_for 120 bash -c '! systemctl is-active --quiet vigild.service'
left=$(vigil_worker_units active,activating | wc -l)
assert_eq 0 "$left" "active vigil worker units after stopping vigil.target"
procs=$(find /sys/fs/cgroup/vigil.slice -name cgroup.procs -exec cat {} + 2>/dev/null | wc -l)
assert_eq 0 "$procs" "processes left in vigil.slice"
assert_eq 0 "$(count_events restart-scheduled $u)" "restarts scheduled during the stop"
pass_step "target stopped: no worker, no process left, no restart attempted"

systemctl start vigil.target
wait_unit_active vigild.service 120
wait_unit_active $u 90
pass_step "target started again: worker back"
