#!/bin/bash
# Upgrading the package (dpkg -i over the installed version) restarts vigild, as
# dh_installsystemd does on every upgrade, but never stops or restarts a worker and never
# restarts vigil.target (which would restart every worker through PartOf=).
# vm-timeout: 300
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

vigil_start_single_worker
u=vigil-t-w.service
pid=$(main_pid $u)
inv=$(unit_prop $u InvocationID)
vinv=$(unit_prop vigild.service InvocationID)
tinv=$(unit_prop vigil.target InvocationID)

deb=$(ls /opt/vigil-test/*.deb | head -n 1)
dpkg -i "$deb"
wait_unit_active vigild.service 120
[[ $(unit_prop vigild.service InvocationID) != "$vinv" ]] || fail "vigild was not restarted by the upgrade"
assert_eq "$tinv" "$(unit_prop vigil.target InvocationID)" "vigil.target InvocationID (must not restart)"
assert_eq "$pid" "$(main_pid $u)" "worker MainPID across the upgrade"
assert_eq "$inv" "$(unit_prop $u InvocationID)" "worker InvocationID across the upgrade"
pass_step "upgrade: vigild restarted, vigil.target and the worker untouched"
