#!/bin/bash
# A reload while a strategy restart is in flight completes the restart exactly as without
# the reload (the reported case: one_for_all, a stubborn sibling still stopping, SIGHUP),
# `systemctl reload vigild` and `systemctl restart vigild` return without waiting for a
# worker's stop job, and a reload of an unchanged file never runs a finished temporary
# worker again. A vigild restarted while a worker is stopping starts that worker once the
# stop is done, without a failed start.
# vm-timeout: 400
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

rm -f /run/vigil-once
cfg='tier: tier_2
trees:
  t:
    strategy: one_for_all
    intensity: {max_restarts: 20, period: 60s}
    children:
      - name: stubborn
        command: [/bin/sh, -c, "trap \"\" TERM; while :; do sleep 1; done"]
        stop: {timeout: 15s}
        backoff: {initial: 1s, jitter: 0}
      - name: other
        command: [/bin/sleep, infinity]
        backoff: {initial: 1s, jitter: 0}
  once:
    children:
      - name: job
        command: [/bin/sh, -c, "echo ran >> /run/vigil-once; exit 0"]
        restart: temporary'
assert_eq config-applied "$(vigil_apply <<<"$cfg")" "reload result"
s=vigil-t-stubborn.service o=vigil-t-other.service
wait_unit_active $s 90
wait_unit_active $o 90
wait_for 30 test -s /run/vigil-once

# The reported case: kill other; while stubborn is stopping (15 s), reload.
safe_kill KILL "$(main_pid $o)"
wait_for 30 bash -c "[ \$(systemctl show -p ActiveState --value $s) = deactivating ]"
t0=$(date +%s.%N)
systemctl reload vigild.service
t1=$(date +%s.%N)
took=$(python3 -c "print(round($t1 - $t0, 2))")
echo "systemctl reload took ${took}s while $s was stopping (stop timeout 15s)"
python3 -c "import sys; sys.exit(0 if $took < 7.5 else 1)" || fail "the reload waited for the worker's stop job (${took}s)"
pass_step "reload during the stubborn stop returned in ${took}s"
wait_unit_active $s 90
wait_unit_active $o 90
_tree_running() { [[ $(vigil_field supervisors t state) == running ]]; }
wait_for 30 _tree_running
assert_eq 1 "$(count_events strategy-applied $o)" "strategy restarts"
pass_step "the one_for_all restart completed across the reload: both running, tree running"

# An unchanged reload leaves the finished temporary worker finished.
for _ in 1 2 3; do assert_eq config-applied "$(vigil_apply <<<"$cfg")" "reload result"; done
assert_eq 1 "$(wc -l </run/vigil-once)" "runs of the temporary worker after 3 reloads"
pass_step "3 unchanged reloads: the finished temporary worker did not run again"

# vigild's own restart does not wait either.
safe_kill KILL "$(main_pid $o)"
wait_for 30 bash -c "[ \$(systemctl show -p ActiveState --value $s) = deactivating ]"
t0=$(date +%s.%N)
systemctl restart vigild.service
t1=$(date +%s.%N)
took=$(python3 -c "print(round($t1 - $t0, 2))")
echo "systemctl restart vigild took ${took}s while $s was stopping"
python3 -c "import sys; sys.exit(0 if $took < 7.5 else 1)" || fail "the restart waited for the worker's stop job (${took}s)"
wait_unit_active $s 120
wait_unit_active $o 120
# The new vigild found the stop running and waited for it instead of colliding with it.
vigil_events VIGIL_EVENT=worker-stopping VIGIL_REASON=found-stopping | grep -q "$s" ||
    fail "no worker-stopping event with reason found-stopping for $s"
assert_eq 0 "$(count_events worker-start-failed $s)" "failed starts of $s"
pass_step "restart of vigild during the stubborn stop returned in ${took}s; both workers back"

