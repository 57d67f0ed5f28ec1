#!/bin/bash
# Fault 7 (docs/RELIABILITY.md): what vigild finds at start that it did not write, or no
# longer reads: a corrupt state file and one from an older version (each reported, set
# aside as supervision.json.bad, and supervision rebuilt from systemd's view: every worker
# adopted), a unit of ours left over from an older configuration (stopped, reason
# not-configured), and a unit with our name prefix that vigild did not create (left alone).
# vm-timeout: 400
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

config() { # [WITH_OLD]
    cat <<YAML
tier: tier_2
trees:
  s:
    children:
      - {name: a, command: [$VIGIL_WORKER_BIN]}
      - {name: b, command: [$VIGIL_WORKER_BIN], restart: temporary}
YAML
    [[ ${1:-} == old ]] && echo "      - {name: old, command: [$VIGIL_WORKER_BIN]}"
    return 0
}

assert_eq config-applied "$(config old | vigil_apply)" "reload result"
for u in a b old; do wait_unit_active "vigil-s-$u.service" 90; done
# b is temporary and exits cleanly: it is finished, and must stay so across restarts.
systemctl kill --signal=TERM vigil-s-b.service
_b_down() { b_state=$(vigil_field workers s/b state); [[ $b_state == exited || $b_state == failed ]]; }
wait_for 60 _b_down
# A unit with our prefix that vigild did not create.
systemd-run --unit=vigil-s-foreign.service /bin/sleep 100000
wait_unit_active vigil-s-foreign.service 30
foreign=$(main_pid vigil-s-foreign.service)
apid=$(main_pid vigil-s-a.service)
pass_step "tree s up, b finished, a foreign vigil-s-foreign.service runs"

# The state written by this vigild is read back by the next one: b stays finished.
_state_has_b() { grep -q '"vigil-s-b.service"' /var/lib/vigil/supervision.json 2>/dev/null; }
wait_for 30 _state_has_b
t=$(date +%s.%N)
vigil_restart_ready
journalctl -q --since="@$t" -u vigild.service -o cat | grep -q "supervision state restored from /var/lib/vigil/supervision.json" ||
    fail "the state was not restored"
assert_eq "$b_state" "$(vigil_field workers s/b state)" "b after a restart of vigild"
assert_eq 0 "$(journalctl -q --since="@$t" _SYSTEMD_UNIT=vigild.service VIGIL_EVENT=worker-starting VIGIL_UNIT=vigil-s-b.service -o cat | wc -l)" \
    "starts of the finished temporary worker b"
pass_step "a finished temporary worker stays down across a restart"


# --- a corrupt state file -----------------------------------------------------------------
# (Without a usable state, vigild knows only what systemd runs: b, finished, is started
# again. That is the cost of a lost state, and the reason it is kept.)
systemctl stop vigild.service
printf '{"format": "vigil-supervision-state", "version": 1, "workers": {"vigil-s-a.ser' >/var/lib/vigil/supervision.json
t=$(date +%s.%N)
vigil_restart_ready
journalctl -q --since="@$t" -u vigild.service -o cat | grep -q "supervision state /var/lib/vigil/supervision.json cannot be used: not valid JSON; starting from systemd's view" ||
    fail "the corrupt state file was not reported"
[[ -s /var/lib/vigil/supervision.json.bad ]] || fail "the corrupt file was not set aside"
assert_eq "$apid" "$(main_pid vigil-s-a.service)" "a's MainPID across a start with a corrupt state"
assert_eq "$foreign" "$(main_pid vigil-s-foreign.service)" "the foreign unit"
pass_step "corrupt state: reported, set aside, a adopted"

# --- a state file from an older version -----------------------------------------------------
systemctl stop vigild.service
cat >/var/lib/vigil/supervision.json <<JSON
{"format": "vigil-supervision-state", "version": 0, "boot_id": "$(tr -d - </proc/sys/kernel/random/boot_id)", "workers": {}}
JSON
t=$(date +%s.%N)
vigil_restart_ready
journalctl -q --since="@$t" -u vigild.service -o cat | grep -q "cannot be used: version 0 is not the version this vigild reads (1)" ||
    fail "the old-version state file was not reported"
assert_eq "$apid" "$(main_pid vigil-s-a.service)" "a's MainPID across a start with an old state"
pass_step "old version: reported, rebuilt from systemd's view"

# --- a unit left over from an older configuration ------------------------------------------
systemctl stop vigild.service
config | vigil_write_config
t=$(date +%s.%N)
vigil_restart_ready
_old_gone() { [[ $(unit_prop vigil-s-old.service ActiveState) != active ]]; }
wait_for 60 _old_gone
journalctl -q --since="@$t" _SYSTEMD_UNIT=vigild.service VIGIL_EVENT=unit-removed VIGIL_UNIT=vigil-s-old.service VIGIL_REASON=not-configured -o cat | grep -q . ||
    fail "no unit-removed event for the leftover unit"
assert_eq "$apid" "$(main_pid vigil-s-a.service)" "a across the start with a leftover unit"
assert_eq "$foreign" "$(main_pid vigil-s-foreign.service)" "the foreign unit, left alone"
systemctl stop vigil-s-foreign.service
pass_step "leftover unit stopped (not-configured); the foreign one left alone"
