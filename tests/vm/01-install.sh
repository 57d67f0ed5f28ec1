#!/bin/bash
# The package installs and starts vigil: vigild is active (Type=notify, so READY=1 was
# sent), vigil.target is active, and the shipped example configuration's workers run in
# vigil.slice.
# vm-timeout: 300
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

wait_unit_active vigild.service 120
wait_unit_active vigil.target 60
pass_step "vigild.service and vigil.target are active"

vigild --check-config /etc/vigil/vigil.yaml || fail "the shipped example configuration is invalid"
units=$(vigil_worker_units)
[[ -n $units ]] || fail "no vigil-*.service units are running"
for u in $units; do
    wait_unit_active "$u" 60
    cg=$(unit_prop "$u" ControlGroup)
    [[ $cg == /vigil.slice/vigil-*.slice/$u ]] || fail "$u is in '$cg', not in a tree slice"
done
pass_step "example workers run in their tree slices: $(echo $units)"

wait_for 30 test -s /run/vigil/state.json
vigilctl status | tee /dev/stderr | grep >/dev/null running || fail "vigilctl status shows no running worker"
pass_step "vigilctl status works"

[[ $(unit_prop vigild.service NRestarts) == 0 ]] || fail "vigild restarted during install"
[[ $(unit_prop vigil-test-runner.service ActiveState) == activating ]] ||
    fail "vigild touched a foreign unit that merely shares the vigil- prefix"
pass_step "foreign vigil-test-runner.service left alone"
