#!/bin/bash
# The package installs and starts vigil: vigild is active (Type=notify, so READY=1 was
# sent), vigil.target and vigil-workers.target are active, and the shipped configuration
# supervises nothing (no demo process runs on a freshly installed host). The example
# configuration the package ships runs on this minimal Debian system (no python3 needed)
# once copied into place, including its non-root shell worker that uses systemd-notify.
# vm-timeout: 300
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

wait_unit_active vigild.service 120
wait_unit_active vigil.target 60
wait_unit_active vigil-workers.target 60
pass_step "vigild.service, vigil.target and vigil-workers.target are active"

vigild --check-config /etc/vigil/vigil.yaml || fail "the shipped configuration is invalid"
units=$(vigil_worker_units)
[[ -z $units ]] || fail "workers run right after installation: $units"
pass_step "the shipped configuration supervises nothing"

example=/usr/share/vigil/example.yaml
out=$(vigild --check-config "$example" 2>&1) || fail "the shipped example is invalid here: $out"
[[ $out != *warning* ]] || fail "the shipped example has warnings on this host: $out"
grep -q python "$example" && fail "the example still uses python"
assert_eq config-applied "$(vigil_apply <"$example")" "reload result"
expected="vigil-jobs-clock.service vigil-jobs-echoers-hello.service vigil-jobs-echoers-world.service vigil-ready-notifier.service vigil-web-api.service vigil-web-ticker@1.service vigil-web-ticker@2.service"
for u in $expected; do
    wait_unit_active "$u" 90
    cg=$(unit_prop "$u" ControlGroup)
    [[ $cg == /vigil.slice/vigil-*.slice/$u ]] || fail "$u is in '$cg', not in a tree slice"
done
assert_eq "$expected" "$(vigil_worker_units | sort | xargs)" "example worker units"
assert_eq nobody "$(ps -o user= -p "$(main_pid vigil-ready-notifier.service)")" "notifier's user"
assert_eq all "$(unit_prop vigil-ready-notifier.service NotifyAccess)" "notifier's NotifyAccess"
pass_step "example workers run in their tree slices, the shell notify worker (nobody) is up"

wait_for 30 vigilctl status
vigilctl status | tee /dev/stderr | grep >/dev/null running || fail "vigilctl status shows no running worker"
pass_step "vigilctl status works"

[[ $(unit_prop vigild.service NRestarts) == 0 ]] || fail "vigild restarted during install"
# Only in the VM harness (the autopkgtest's testbed has no such unit).
if [[ -e /etc/systemd/system/vigil-test-runner.service ]]; then
    [[ $(unit_prop vigil-test-runner.service ActiveState) == activating ]] ||
        fail "vigild touched a foreign unit that merely shares the vigil- prefix"
    pass_step "foreign vigil-test-runner.service left alone"
fi
