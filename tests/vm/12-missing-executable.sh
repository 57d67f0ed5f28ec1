#!/bin/bash
# A worker whose executable does not exist: each attempt produces a clear error event
# (naming the step and the file), and attempts are spaced by the backoff (1 s, 2 s, 4 s,
# ...), never faster.
# vm-timeout: 300
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

result=$(vigil_apply <<YAML
tier: tier_2
trees:
  miss:
    intensity: {max_restarts: 100, period: 10min}
    children:
      - name: ghost
        command: [/nonexistent/bin/ghost, --flag]
        backoff: {initial: 1s, max: 8s, multiplier: 2, jitter: 0}
YAML
)
assert_eq config-applied "$result" "reload result"
u=vigil-miss-ghost.service
wait_for 120 bash -c "[ \$(journalctl -q _SYSTEMD_UNIT=vigild.service VIGIL_EVENT=worker-start-failed VIGIL_UNIT=$u -o cat | wc -l) -ge 4 ]"
msg=$(journalctl -q _SYSTEMD_UNIT=vigild.service VIGIL_EVENT=worker-start-failed VIGIL_UNIT=$u -o cat | tail -n 1)
echo "last error event: $msg"
[[ $msg == *"step EXEC failed"* ]] || fail "error event does not name the EXEC step: $msg"
[[ $msg == *"/nonexistent/bin/ghost"*"No such file or directory"* ]] || fail "error event does not name the file: $msg"
pass_step "clear error event"

# Start attempts (worker-starting events) must be at least the backoff apart:
# base delays 1 s, 2 s, 4 s between attempts 1-2, 2-3, 3-4.
mapfile -t ts < <(journalctl -q _SYSTEMD_UNIT=vigild.service VIGIL_EVENT=worker-starting VIGIL_UNIT=$u -o json |
    python3 -c 'import json,sys; [print(json.loads(l)["__MONOTONIC_TIMESTAMP"]) for l in sys.stdin]')
((${#ts[@]} >= 4)) || fail "expected at least 4 start attempts, saw ${#ts[@]}"
expected=(1000000 2000000 4000000)
for i in 0 1 2; do
    gap=$((ts[i + 1] - ts[i]))
    echo "gap between attempt $((i + 1)) and $((i + 2)): ${gap}us (backoff ${expected[i]}us)"
    ((gap >= expected[i])) || fail "attempt $((i + 2)) came after ${gap}us, before its backoff of ${expected[i]}us"
done
pass_step "attempts spaced by the backoff"
systemctl is-active --quiet vigild.service || fail "vigild died"
