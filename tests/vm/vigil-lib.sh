# shellcheck shell=bash
# vigil-specific helpers for VM tests; source after lib.sh.

VIGIL_WORKER_BIN=$(dpkg -L vigil | grep '/vigil-example-worker$' | head -n 1)
[[ -x $VIGIL_WORKER_BIN ]] || fail "vigil-example-worker is not installed"

# vigil_json — vigilctl status --json (the documented document), or nothing if vigild
# cannot be reached.
vigil_json() {
    vigilctl status --json 2>/dev/null
}

# vigil_is_ready — vigild answers and has sent READY=1 (`vigilctl status --json`).
vigil_is_ready() {
    [[ $(vigil_json | python3 -c 'import json,sys; print(json.load(sys.stdin)["vigild"]["ready"])' 2>/dev/null) == True ]]
}

# vigil_restart_ready — restart vigild (not a crash: it stops cleanly and writes its state)
# and wait until the new one is ready. The start limit is reset first: fault tests
# restart vigild more often than StartLimitBurst allows.
vigil_restart_ready() {
    systemctl reset-failed vigild.service
    systemctl restart vigild.service
    wait_for 120 vigil_is_ready
}

# vigil_config_state — "GENERATION RESULT" of vigild's configuration ("0 none" if vigild
# cannot be reached).
vigil_config_state() {
    vigil_json | python3 -c '
import json, sys
try:
    v = json.load(sys.stdin)["vigild"]
    print(v["config_generation"], v["last_reload"]["result"] or "none")
except Exception:
    print(0, "none")
'
}

# vigil_field KIND PATH FIELD — FIELD of the supervisor (KIND=supervisors) or worker
# (KIND=workers) at PATH in `vigilctl status --json` ("" if absent).
vigil_field() {
    vigil_json | python3 -c '
import json, sys
kind, path, field = sys.argv[1:4]
try:
    d = json.load(sys.stdin)
    v = [x for x in d[kind] if x["path"] == path][0].get(field)
    print("" if v is None else v)
except Exception:
    print("")
' "$1" "$2" "$3"
}

# vigil_apply — write stdin as the configuration, reload vigild (systemctl reload, i.e.
# SIGHUP), and wait until it has handled it (the configuration generation vigild reports
# moves on). Prints "config-applied" or "config-rejected".
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

# The tree most vigilctl tests use: tree `app` (one_for_one) with a single worker `a`, a
# worker `w` with 3 instances and a nested supervisor `sub` (x, y). Every worker is a
# shell that prints "hello from INSTANCE" when it starts and "got-usr1" on SIGUSR1.
vigil_ctl_config() {
    local instances=${1:-3}
    cat <<YAML
tier: tier_2
defaults:
  backoff: {initial: 500ms, max: 2s, jitter: 0}
  stop: {timeout: 5s}
trees:
  app:
    strategy: one_for_one
    intensity: {max_restarts: 50, period: 60s}
    children:
      - name: a
        command: [/bin/sh, -c, 'trap "echo got-usr1" USR1; echo "hello from a"; while :; do sleep 0.2 & wait \$!; done']
      - name: w
        instances: $instances
        command: [/bin/sh, -c, 'trap "echo got-usr1" USR1; echo "hello from w\$VIGIL_INSTANCE"; while :; do sleep 0.2 & wait \$!; done']
      - name: sub
        strategy: one_for_one
        children:
          - name: x
            command: [$VIGIL_WORKER_BIN]
          - name: y
            command: [$VIGIL_WORKER_BIN]
YAML
}

# vigil_start_ctl_tree [INSTANCES] — from nothing (what an earlier test left is removed
# first), apply vigil_ctl_config and wait until all its units are active.
vigil_start_ctl_tree() {
    assert_eq config-applied "$(printf 'tier: tier_2\ntrees: {}\n' | vigil_apply)" "reload to an empty tree"
    _no_workers() { [[ -z $(vigil_worker_units active) ]]; }
    wait_for 120 _no_workers
    assert_eq config-applied "$(vigil_ctl_config "${1:-3}" | vigil_apply)" "reload result"
    local u
    for u in vigil-app-a vigil-app-sub-x vigil-app-sub-y; do wait_unit_active $u.service 90; done
    for ((i = 1; i <= ${1:-3}; i++)); do wait_unit_active "vigil-app-w@$i.service" 90; done
}

# ctl_expect CODE COMMAND... — run vigilctl COMMAND..., fail unless it exits CODE; its
# stdout and stderr are left in $ctl_out and $ctl_err.
ctl_expect() {
    local want=$1 rc=0
    shift
    # A vigilctl that hangs fails here, naming its command, rather than the whole test
    # at its timeout.
    ctl_out=$(timeout 120 vigilctl "$@" 2>/tmp/ctl-err) || rc=$?
    ctl_err=$(cat /tmp/ctl-err)
    ((rc != 124)) || fail "vigilctl $*: no answer within 120 s; stdout: $ctl_out; stderr: $ctl_err"
    [[ $rc == "$want" ]] || fail "vigilctl $*: exit $rc, expected $want; stdout: $ctl_out; stderr: $ctl_err"
}
