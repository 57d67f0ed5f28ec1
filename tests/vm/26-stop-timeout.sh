#!/bin/bash
# Stopping a worker that ignores SIGTERM and has forked a grandchild: systemd sends
# SIGTERM, waits stop.timeout, then SIGKILLs the whole cgroup, so nothing survives.
# stop.timeout 0 (OTP's brutal_kill) kills with SIGKILL at once.
# vm-timeout: 300
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

result=$(vigil_apply <<YAML
tier: tier_2
trees:
  stop:
    children:
      - name: stubborn
        command: [/bin/sh, -c, 'trap "" TERM; /usr/bin/sleep 7777 & exec $VIGIL_WORKER_BIN --ignore-term']
        stop: {signal: SIGTERM, timeout: 4s}
      - name: brutal
        command: [$VIGIL_WORKER_BIN]
        stop: {timeout: 0}
YAML
)
assert_eq config-applied "$result" "reload result"
wait_unit_active vigil-stop-stubborn.service 90
wait_unit_active vigil-stop-brutal.service 90
assert_eq 9 "$(unit_prop vigil-stop-brutal.service KillSignal)" "brutal_kill KillSignal"
assert_eq 4s "$(unit_prop vigil-stop-stubborn.service TimeoutStopUSec)" "TimeoutStopUSec"
wait_for 30 pgrep -x -f '/usr/bin/sleep 7777' >/dev/null
pass_step "stubborn worker and its grandchild running"

t0=$SECONDS
assert_eq config-applied "$(vigil_single_worker_config | vigil_apply)" "reload result"
# Not `! systemctl is-active`: that is already true while the unit is deactivating.
wait_for 120 bash -c '[[ $(systemctl show -p ActiveState --value vigil-stop-stubborn.service) =~ ^(inactive|failed)$ ]]'
elapsed=$((SECONDS - t0))
echo "stubborn stopped after ${elapsed}s"
((elapsed >= 4)) || fail "stopped after ${elapsed}s, before its 4s stop timeout: SIGTERM was not ignored?"
pgrep -x -f '/usr/bin/sleep 7777' >/dev/null && fail "the grandchild survived the stop"
journalctl -q -u vigil-stop-stubborn.service -o cat | grep 'timed out. Killing' >/dev/null ||
    fail "systemd did not report the stop timeout"
pass_step "SIGTERM ignored, SIGKILL after the timeout, grandchild gone"
