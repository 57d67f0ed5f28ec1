#!/bin/bash
# Fault 1 (docs/RELIABILITY.md): kill -9 of vigild idle, during a backoff, during a rolling
# restart and during a tree's start. systemd restarts vigild (Restart=on-failure); every
# worker that was running keeps its MainPID and InvocationID, no unit is started twice, a
# backoff waits out its deadline and the counters go on (the state in /var/lib/vigil).
# vm-timeout: 600
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

fault_config() { # [WITH_TREE_G]
    cat <<YAML
tier: tier_2
trees:
  f:
    strategy: one_for_one
    intensity: {max_restarts: 50, period: 5min}
    children:
      - name: a
        command: [$VIGIL_WORKER_BIN]
      - name: b
        command: [$VIGIL_WORKER_BIN]
        backoff: {initial: 25s, max: 60s, jitter: 0}
      - name: w
        instances: 3
        # READY=1 3 s after the start: a rolling restart is slow enough to be interrupted.
        command: [$VIGIL_WORKER_BIN, --ready-after, '3']
        notify: true
        stop: {timeout: 5s}
YAML
    if [[ ${1:-} == g ]]; then
        cat <<YAML
  g:
    strategy: one_for_one
    children:
YAML
        for i in 1 2 3 4 5; do
            # Each comes up 2 s after its start (READY=1): the tree's ordered start is slow
            # enough to be interrupted.
            echo "      - {name: s$i, command: [$VIGIL_WORKER_BIN, --ready-after, '2'], notify: true}"
        done
    fi
}

units_f="vigil-f-a.service vigil-f-b.service vigil-f-w@1.service vigil-f-w@2.service vigil-f-w@3.service"

# snapshot UNITS... — "unit pid invocation" lines.
snapshot() {
    local u
    for u in "$@"; do echo "$u $(unit_prop "$u" MainPID) $(unit_prop "$u" InvocationID)"; done
}

# kill_vigild — SIGKILL vigild; wait for systemd's restart and for the new vigild's READY.
kill_vigild() {
    local vpid
    systemctl reset-failed vigild.service # the start limit counts our kills too
    vpid=$(main_pid vigild.service)
    safe_kill KILL "$vpid"
    wait_pid_changes vigild.service "$vpid" 120
    wait_for 120 vigil_is_ready
}

# starts_since T UNIT — worker-starting events for UNIT logged after uptime T (from the journal).
starts_since() {
    journalctl -q --since="@$1" _SYSTEMD_UNIT=vigild.service VIGIL_EVENT=worker-starting VIGIL_UNIT="$2" -o cat | wc -l
}

assert_eq config-applied "$(fault_config | vigil_apply)" "reload result"
for u in $units_f; do wait_unit_active "$u" 90; done
pass_step "tree f up"

# --- 1a: idle ---------------------------------------------------------------------------
before=$(snapshot $units_f)
t=$(date +%s.%N)
kill_vigild
assert_eq "$before" "$(snapshot $units_f)" "MainPIDs and InvocationIDs across kill -9 (idle)"
for u in $units_f; do assert_eq 0 "$(starts_since "$t" "$u")" "starts of $u after kill -9 (idle)"; done
pass_step "idle: every worker adopted with its MainPID and InvocationID, none started"

# --- 1b: during a backoff ---------------------------------------------------------------
bpid=$(main_pid vigil-f-b.service)
safe_kill KILL "$bpid"
_in_backoff() { [[ $(vigil_field workers f/b state) == backoff ]]; }
wait_for 60 _in_backoff
restarts=$(vigil_field workers f/b restarts)
assert_eq 1 "$restarts" "f/b restarts before the kill"
due=$(($(date +%s) + $(vigil_field workers f/b restart_in_usec) / 1000000))
[[ -s /var/lib/vigil/supervision.json ]] || fail "no /var/lib/vigil/supervision.json"
grep -q next_restart_realtime_usec /var/lib/vigil/supervision.json || fail "the backoff is not in the state file"
t=$(date +%s.%N)
kill_vigild
assert_eq backoff "$(vigil_field workers f/b state)" "f/b after kill -9 during its backoff"
assert_eq 1 "$(vigil_field workers f/b restarts)" "f/b restarts after kill -9 (the counter survives)"
assert_eq 1 "$(vigil_field workers f/b consecutive_failures)" "f/b consecutive failures after kill -9"
due2=$(($(date +%s) + $(vigil_field workers f/b restart_in_usec) / 1000000))
((due2 - due <= 2 && due - due2 <= 2)) || fail "the backoff deadline moved: $due -> $due2"
journal_since_test _SYSTEMD_UNIT=vigild.service VIGIL_EVENT=restart-scheduled VIGIL_REASON=restored -o cat | grep -q "still in backoff" ||
    fail "no restart-scheduled event with reason restored"
assert_eq 0 "$(starts_since "$t" vigil-f-b.service)" "f/b started before its deadline"
[[ $(unit_prop vigil-f-b.service ActiveState) != active ]] || fail "f/b is active before its deadline"
wait_unit_active vigil-f-b.service 90
now=$(date +%s)
((now >= due - 1)) || fail "f/b started at $now, before its deadline $due"
assert_eq 1 "$(starts_since "$t" vigil-f-b.service)" "f/b starts after its deadline"
pass_step "backoff: deadline kept across kill -9 ($((due - ${t%.*})) s left), counters kept, started once at the deadline"

# --- 1c: during a rolling restart -------------------------------------------------------
w3=$(main_pid 'vigil-f-w@3.service')
w3inv=$(unit_prop 'vigil-f-w@3.service' InvocationID)
w1=$(main_pid 'vigil-f-w@1.service')
ctl_expect 0 restart --rolling f/w --no-block
wait_pid_changes 'vigil-f-w@1.service' "$w1" 60
t=$(date +%s.%N)
kill_vigild
for i in 1 2 3; do wait_unit_active "vigil-f-w@$i.service" 90; done
assert_eq "$w3 $w3inv" "$(unit_prop 'vigil-f-w@3.service' MainPID) $(unit_prop 'vigil-f-w@3.service' InvocationID)" \
    "w@3 (not reached by the rolling restart) across kill -9"
for i in 1 2 3; do
    n=$(starts_since "$t" "vigil-f-w@$i.service")
    ((n <= 1)) || fail "vigil-f-w@$i.service started $n times after kill -9"
done
assert_eq 3 "$(vigil_worker_units active | grep -c '^vigil-f-w@')" "w instances active"
pass_step "rolling restart: interrupted, every instance active once, w@3 untouched"

# --- 1d: during a tree's start ----------------------------------------------------------
before=$(snapshot $units_f)
assert_eq config-applied "$(fault_config g | vigil_apply)" "reload adding tree g"
wait_unit_active vigil-g-s2.service 120
up=""
for i in 1 2 3 4 5; do
    [[ $(unit_prop "vigil-g-s$i.service" ActiveState) == active ]] && up="$up vigil-g-s$i.service"
done
gbefore=$(snapshot $up)
t=$(date +%s.%N)
kill_vigild
for i in 1 2 3 4 5; do wait_unit_active "vigil-g-s$i.service" 120; done
assert_eq "$gbefore" "$(snapshot $up)" "g's workers that were up before kill -9"
for u in $up; do assert_eq 0 "$(starts_since "$t" "$u")" "starts of $u (up before the kill)"; done
for i in 1 2 3 4 5; do
    n=$(starts_since "$t" "vigil-g-s$i.service")
    ((n <= 1)) || fail "vigil-g-s$i.service started $n times after kill -9"
done
assert_eq "$before" "$(snapshot $units_f)" "tree f across kill -9 during g's start"
pass_step "tree start: ${up:-none} kept, the rest started once each"
