#!/bin/bash
# Fault 2 (docs/RELIABILITY.md): systemctl daemon-reload and daemon-reexec (as systemd
# upgrades run them) in a loop while workers crash. Every crash is handled exactly once: each kill gives one worker-exited
# event and one restart (a new MainPID), no crash is missed across a re-execution (PID 1's
# signals are lost while it re-executes; vigild resyncs), none is handled twice.
# vm-timeout: 400
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

assert_eq config-applied "$(vigil_apply <<YAML
tier: tier_2
trees:
  r:
    strategy: one_for_one
    intensity: {max_restarts: 100, period: 10min}
    children:
      - name: c
        instances: 3
        command: [$VIGIL_WORKER_BIN]
        backoff: {initial: 100ms, max: 500ms, jitter: 0}
YAML
)" "reload result"
for i in 1 2 3; do wait_unit_active "vigil-r-c@$i.service" 60; done
vpid=$(main_pid vigild.service)
t=$(date +%s.%N)
kills=0
for round in 1 2 3 4 5 6; do
    (if ((round % 2)); then systemctl daemon-reexec; else systemctl daemon-reload; fi) &
    op=$!
    for i in 1 2 3; do
        u="vigil-r-c@$i.service"
        # systemctl has no answer while PID 1 re-executes: ask until it has one.
        _has_pid() { p=$(unit_prop "$u" MainPID 2>/dev/null) && [[ $p =~ ^[0-9]+$ ]] && ((p > 1)); }
        wait_for 60 _has_pid
        safe_kill KILL "$p"
        kills=$((kills + 1))
        sleep 0.3
    done
    wait "$op"
    for i in 1 2 3; do wait_unit_active "vigil-r-c@$i.service" 60; done
done
pass_step "6 rounds of daemon-reexec/daemon-reload, $kills kills"
# Settled: every instance running, and the journal tells each crash once.
_settled() { [[ $(vigil_json | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(sum(1 for w in d["workers"] if w["path"].startswith("r/c") and w["state"] == "running"))') == 3 ]]; }
wait_for 60 _settled
exits=$(journalctl -q --since="@$t" _SYSTEMD_UNIT=vigild.service VIGIL_EVENT=worker-exited -o cat | wc -l)
starts=$(journalctl -q --since="@$t" _SYSTEMD_UNIT=vigild.service VIGIL_EVENT=worker-starting -o cat | wc -l)
assert_eq "$kills" "$exits" "worker-exited events (one per kill)"
assert_eq "$kills" "$starts" "restarts (one per kill)"
restarts=$(vigil_json | python3 -c '
import json, sys
print(sum(w["restarts"] for w in json.load(sys.stdin)["workers"] if w["path"].startswith("r/c")))')
assert_eq "$kills" "$restarts" "restart counters"
assert_eq "$vpid" "$(main_pid vigild.service)" "vigild's PID across the re-executions (it re-subscribed, it did not restart)"
pass_step "every crash handled exactly once: $exits exits, $starts restarts; vigild kept its PID"
