# shellcheck shell=bash
# vigil-specific helpers for VM tests; source after lib.sh.

VIGIL_WORKER_BIN=$(dpkg -L vigil | grep '/vigil-example-worker$' | head -n 1)
[[ -x $VIGIL_WORKER_BIN ]] || fail "vigil-example-worker is not installed"

# vigil_config_state — "GENERATION RESULT" from vigild's state file ("0 none" if absent).
vigil_config_state() {
    python3 -c '
import json, sys
try:
    d = json.load(open("/run/vigil/state.json"))
    print(d.get("config_generation", 0), d.get("config_result", "none"))
except Exception:
    print(0, "none")
'
}

# vigil_apply — write stdin as the configuration, reload vigild, and wait until it has
# handled it (the configuration generation in its state file moves on). Prints
# "config-applied" or "config-rejected".
vigil_apply() {
    local before after
    before=$(vigil_config_state)
    before=${before%% *}
    vigil_write_config
    systemctl reload vigild.service || fail "systemctl reload vigild.service failed"
    local deadline=$((SECONDS + 120))
    while ((SECONDS < deadline)); do
        after=$(vigil_config_state)
        if ((${after%% *} > before)); then
            echo "config-${after#* }"
            return 0
        fi
        sleep 0.5
    done
    fail "vigild did not handle the reload within 120s (state: $(vigil_config_state))"
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

# vigil_worker_units [STATE] — names of vigil worker units (vigil-*.service, in any state
# or the given one), without the test runner's own unit, which shares the prefix.
vigil_worker_units() {
    systemctl list-units --plain --no-legend ${1:+--state="$1"} 'vigil-*.service' |
        awk '{print $1}' | grep -vx 'vigil-test-runner.service' || true
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

# vigil_start_single_worker — apply vigil_single_worker_config and wait until its unit,
# vigil-t-w.service, is active.
vigil_start_single_worker() {
    assert_eq config-applied "$(vigil_single_worker_config | vigil_apply)" "reload result"
    wait_unit_active vigil-t-w.service 90
}

# vigil_install_stoplog — installs /usr/local/bin/vigil-test-stoplog NAME exit|ignore: a
# worker that appends "NAME START|TERM|EXIT <uptime>" to /run/vigil-order.log, and on
# SIGTERM either exits after 0.5 s ("exit") or carries on ("ignore", so only SIGKILL ends it).
vigil_install_stoplog() {
    cat >/usr/local/bin/vigil-test-stoplog <<'SH'
#!/bin/sh
name=$1 mode=$2
# Shell builtins only: systemd signals every process in the cgroup, and a helper process
# forked while it does (cut, date) can be killed before it prints.
log() { read -r up _ </proc/uptime; echo "$name $1 $up" >>/run/vigil-order.log; }
if [ "$mode" = ignore ]; then
    trap 'log TERM' TERM
else
    trap 'log TERM; sleep 0.5; log EXIT; exit 0' TERM
fi
log START
while :; do
    sleep 0.2 &
    wait $!
done
SH
    chmod 0755 /usr/local/bin/vigil-test-stoplog
    : >/run/vigil-order.log
}

# order_of WHAT — the worker names in /run/vigil-order.log with event WHAT, in time order.
order_of() {
    awk -v w="$1" '$2 == w {print $3, $1}' /run/vigil-order.log | sort -n | awk '{print $2}' | xargs
}

# time_of NAME WHAT — the uptime (seconds) at which NAME logged WHAT (the last time).
time_of() {
    awk -v n="$1" -v w="$2" '$1 == n && $2 == w {t = $3} END {print t}' /run/vigil-order.log
}

# vigil_event_fields EVENT UNIT FIELD — FIELD of the last EVENT about UNIT since the test began.
vigil_event_field() {
    journal_since_test _SYSTEMD_UNIT=vigild.service VIGIL_EVENT="$1" VIGIL_UNIT="$2" -o json |
        python3 -c 'import json,sys
v = ""
for l in sys.stdin:
    v = json.loads(l).get(sys.argv[1], "")
print(v)' "$3"
}
