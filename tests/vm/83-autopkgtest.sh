#!/bin/bash
# The package's autopkgtest (debian/tests/control) run by autopkgtest itself against the
# installed package, on this VM (the null testbed: the VM is the throwaway machine that
# isolation-machine asks for, hence --ignore-restrictions=isolation-machine). It runs the
# VM suite's smoke tests (00-boot, 01-install, then vigild --doctor); autopkgtest's summary must say
# PASS for "smoke".
# vm-timeout: 900
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

src=/opt/vigil-test/src
[[ -f $src/debian/tests/control ]] || fail "no debian/tests/control in $src"
# As on a freshly installed host: the shipped configuration, vigild started by hand (the
# smoke tests check that systemd never had to restart it).
dpkg-deb --fsys-tarfile "$(ls /opt/vigil-test/vigil_*.deb | head -n 1)" | tar -xO ./etc/vigil/vigil.yaml |
    vigil_apply >/dev/null
vigil_restart_ready

out=/tmp/autopkgtest-out
rm -rf "$out"
rc=0
autopkgtest --no-built-binaries --ignore-restrictions=isolation-machine \
    --output-dir "$out" --summary-file /tmp/autopkgtest.summary \
    "$src" -- null || rc=$?
cat /tmp/autopkgtest.summary || true
assert_eq 0 "$rc" "autopkgtest exit status (0: all passed)"
grep -E '^smoke +PASS' /tmp/autopkgtest.summary >/dev/null || fail "smoke did not PASS"
grep -q "=== smoke: all passed" "$out/smoke-stdout" || fail "the smoke script did not finish: $(tail -n 20 "$out/smoke-stdout")"
pass_step "autopkgtest (null testbed): smoke PASS against the installed package"

assert_eq config-applied "$(vigil_apply <<<'trees: {}')" "back to no trees"
