#!/bin/bash
# Fault 6 (docs/RELIABILITY.md): /var/lib/vigil full (a small tmpfs filled up), then
# read-only. vigild says so once (journal, vigilctl status, /metrics), keeps supervising
# (a crash is still restarted), and writes its state again once space (or write access)
# returns; the previous state file stays intact meanwhile.
# vm-timeout: 300
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

state_error() { vigil_json | python3 -c 'import json,sys; print(json.load(sys.stdin)["vigild"].get("state_error", ""))'; }

vigil_start_single_worker
# vigild sees /var/lib/vigil as it was when its namespace was made: mount the small
# tmpfs first, then restart vigild onto it.
systemctl stop vigild.service
cp -a /var/lib/vigil /run/vigil-state-backup
mount -t tmpfs -o size=256k,mode=0755 tmpfs /var/lib/vigil
cp -a /run/vigil-state-backup/. /var/lib/vigil/
vigil_restart_ready
wait_for 30 test -s /var/lib/vigil/supervision.json
pass_step "vigild runs on a 256 KiB /var/lib/vigil"

# --- full -------------------------------------------------------------------------------
dd if=/dev/zero of=/var/lib/vigil/filler bs=4k 2>/dev/null || true
before=$(cat /var/lib/vigil/supervision.json)
t=$(date +%s.%N)
pid=$(main_pid vigil-t-w.service)
safe_kill KILL "$pid"
wait_pid_changes vigil-t-w.service "$pid" 60
_reported() { journalctl -q --since="@$t" -u vigild.service -o cat | grep -q "cannot write the supervision state: .*No space left on device; supervising on, retrying every 5s"; }
wait_for 30 _reported
[[ -n $(state_error) ]] || fail "vigilctl status --json does not report the state error"
ctl_expect 0 status
[[ $ctl_out == *"state: cannot write the state in /var/lib/vigil"* ]] || fail "vigilctl status does not say it: $ctl_out"
assert_eq "$before" "$(cat /var/lib/vigil/supervision.json)" "the previous state file, intact"
pass_step "disk full: said once, the worker still restarted, the old file intact"
pid=$(main_pid vigil-t-w.service)
safe_kill KILL "$pid"
wait_pid_changes vigil-t-w.service "$pid" 60
n=$(journalctl -q --since="@$t" -u vigild.service -o cat | grep -c "cannot write the supervision state" || true)
assert_eq 1 "$n" "times the failure was logged (once until it recovers)"

rm -f /var/lib/vigil/filler
_recovered() { [[ -z $(state_error) ]] && journalctl -q --since="@$t" -u vigild.service -o cat | grep -q "the state in /var/lib/vigil is written again"; }
wait_for 30 _recovered
grep -q '"restarts": 2' /var/lib/vigil/supervision.json || fail "the state written after the recovery lacks the restarts: $(cat /var/lib/vigil/supervision.json)"
pass_step "space back: the state written again, with both restarts"

# --- read-only --------------------------------------------------------------------------
mount -o remount,ro /var/lib/vigil
t=$(date +%s.%N)
pid=$(main_pid vigil-t-w.service)
safe_kill KILL "$pid"
wait_pid_changes vigil-t-w.service "$pid" 60
_ro() { journalctl -q --since="@$t" -u vigild.service -o cat | grep -q "cannot write the supervision state: .*Read-only file system"; }
wait_for 30 _ro
mount -o remount,rw /var/lib/vigil
_recovered2() { [[ -z $(state_error) ]]; }
wait_for 30 _recovered2
grep -q '"restarts": 3' /var/lib/vigil/supervision.json || fail "the state after read-only: $(cat /var/lib/vigil/supervision.json)"
pass_step "read-only: said, supervision went on, written again once writable"

systemctl stop vigild.service
cp -a /var/lib/vigil/. /run/vigil-state-backup/
umount /var/lib/vigil
cp -a /run/vigil-state-backup/. /var/lib/vigil/
rm -rf /run/vigil-state-backup
vigil_restart_ready
