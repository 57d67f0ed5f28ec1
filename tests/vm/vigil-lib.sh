# shellcheck shell=bash
# vigil-specific helpers for VM tests; source after lib.sh.

VIGIL_WORKER_BIN=$(dpkg -L vigil | grep '/vigil-example-worker$' | head -n 1)
[[ -x $VIGIL_WORKER_BIN ]] || fail "vigil-example-worker is not installed"

# vigil_apply — write stdin as the configuration, reload vigild, and wait until it has
# either applied the configuration (config-applied event) or rejected it. Prints which.
vigil_apply() {
    local cursor
    cursor=$(journalctl -q -n 0 --show-cursor | sed -n 's/^-- cursor: //p')
    vigil_write_config
    systemctl reload vigild.service || fail "systemctl reload vigild.service failed"
    local deadline=$((SECONDS + 120)) out
    while ((SECONDS < deadline)); do
        out=$(journalctl -q --after-cursor="$cursor" -o cat --output-fields=VIGIL_EVENT \
            _SYSTEMD_UNIT=vigild.service 2>/dev/null | grep -E '^(config-applied|config-rejected)$' | tail -n 1 || true)
        if [[ -n $out ]]; then echo "$out"; return 0; fi
        sleep 0.5
    done
    fail "vigild neither applied nor rejected the configuration within 120s"
}

# vigil_events FIELD=VALUE... — events logged by vigild since the test started, one per
# line as "EVENT REASON UNIT: MESSAGE".
vigil_events() {
    journal_since_test _SYSTEMD_UNIT=vigild.service "$@" -o json |
        python3 -c '
import json, sys
for line in sys.stdin:
    e = json.loads(line)
    if "VIGIL_EVENT" in e:
        print(e["VIGIL_EVENT"], e.get("VIGIL_REASON", ""), e.get("VIGIL_UNIT", "") + ":", e.get("MESSAGE", ""))
'
}

# count_events EVENT [UNIT] — how many such events since the test started.
count_events() {
    local n
    if [[ -n ${2:-} ]]; then
        n=$(vigil_events VIGIL_EVENT="$1" VIGIL_UNIT="$2" | wc -l)
    else
        n=$(vigil_events VIGIL_EVENT="$1" | wc -l)
    fi
    echo "$n"
}

# wait_pid_changes UNIT OLD_PID TIMEOUT — wait until UNIT is active with another MainPID.
wait_pid_changes() {
    local unit=$1 old=$2 timeout=$3
    _pid_changed() {
        local p
        p=$(unit_prop "$unit" MainPID)
        [[ $(unit_prop "$unit" ActiveState) == active && $p =~ ^[0-9]+$ && $p -gt 1 && $p != "$old" ]]
    }
    wait_for "$timeout" _pid_changed
}

# The same minimal tree used by several tests: tree `t`, one worker `w`.
vigil_single_worker_config() {
    cat <<YAML
tier: tier_2
trees:
  t:
    strategy: one_for_one
    intensity: {max_restarts: 20, period: 60s}
    children:
      - name: w
        command: [$VIGIL_WORKER_BIN]
        backoff: {initial: 500ms, max: 5s, jitter: 0}
YAML
}
