#!/bin/bash
# vigilctl logs shows a worker's output from the journal (every instance, prefixed by
# path), -f streams a new line within seconds of it being written; vigilctl events shows
# the history from the journal and -f streams events live from the bus signal, both as
# text and as JSON lines.
# vm-timeout: 300
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

vigil_start_ctl_tree 3
wait_for 30 bash -c 'vigilctl logs app/w -n 20 | grep -q "hello from w3"'
ctl_expect 0 logs app/w -n 20
echo "$ctl_out"
for i in 1 2 3; do grep -q "app/w@$i\[[0-9]*\]: hello from w$i" <<<"$ctl_out" || fail "no output of w@$i"; done
ctl_expect 0 logs app/w@2 -n 5
grep -q "hello from w1" <<<"$ctl_out" && fail "logs app/w@2 shows w@1's output"
ctl_expect 0 logs app/a -o json -n 1
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["VIGIL_WORKER"]=="app/a" and d["MESSAGE"]=="hello from a", d' "$ctl_out" ||
    fail "logs -o json: $ctl_out"
pass_step "logs -n shows every instance's output, prefixed by path; -o json"

# Across incarnations: restart, then both starts are in the log.
ctl_expect 0 restart app/a
wait_for 30 bash -c '[[ $(vigilctl logs app/a -n 50 | grep -c "hello from a") -ge 2 ]]'
pass_step "logs covers every incarnation"

vigilctl logs app/a -f -n 0 >/tmp/logs-f.txt 2>&1 &
logs_pid=$!
vigilctl events app -f --json >/tmp/events-f.txt 2>&1 &
events_pid=$!
sleep 2
t0=$(date +%s.%N)
ctl_expect 0 kill -s USR1 --main app/a
wait_for 10 grep -q "app/a\[[0-9]*\]: got-usr1" /tmp/logs-f.txt
t1=$(date +%s.%N)
wait_for 10 grep -q '"type":"operator-command"' /tmp/events-f.txt
t2=$(date +%s.%N)
safe_kill TERM "$logs_pid"
safe_kill TERM "$events_pid"
wait "$logs_pid" "$events_pid" 2>/dev/null || true
echo "logs -f line after $(python3 -c "print(round($t1-$t0,2))")s, events -f after $(python3 -c "print(round($t2-$t0,2))")s"
python3 -c 'import json,sys
for l in open("/tmp/events-f.txt"):
    e = json.loads(l)
    assert "at_realtime_usec" in e and "message" in e, e' || fail "events -f --json lines are not JSON events"
pass_step "logs -f and events -f stream new lines within seconds"

ctl_expect 0 events app -n 50
echo "$ctl_out" | tail -n 5
grep -q "operator-command" <<<"$ctl_out" || fail "events history has no operator-command"
grep -q "app/a: .*uid 0" <<<"$ctl_out" || fail "events history does not name the caller"
systemctl restart vigild.service
wait_for 60 vigilctl status
ctl_expect 0 events app -n 200
grep -q "operator-command" <<<"$ctl_out" || fail "the history did not survive a vigild restart"
pass_step "events history comes from the journal and survives a vigild restart"

# log_level: error keeps routine events (a worker starting) out of the journal, but never
# an operator's command or a configuration load: they are the audit trail.
journal_count() { journalctl -b -q -o cat VIGIL_EVENT="$1" | wc -l; }
{
    echo "log_level: error"
    vigil_ctl_config 3
} | vigil_apply >/tmp/apply.txt
assert_eq config-applied "$(cat /tmp/apply.txt)" "reload with log_level: error"
wait_for 10 bash -c "journalctl -b -q -o cat VIGIL_EVENT=config-applied | grep -q ."
applied=$(journal_count config-applied)
commands=$(journal_count operator-command)
starting=$(journal_count worker-starting)
ctl_expect 0 restart app/a
wait_for 30 bash -c "[[ \$(journalctl -b -q -o cat VIGIL_EVENT=operator-command | wc -l) -gt $commands ]]"
sleep 3
assert_eq "$starting" "$(journal_count worker-starting)" "worker-starting entries journaled at log_level: error"
vigil_ctl_config 3 | vigil_apply >/dev/null
wait_for 30 bash -c "[[ \$(journalctl -b -q -o cat VIGIL_EVENT=config-applied | wc -l) -gt $applied ]]"
pass_step "log_level: error still journals operator commands and configuration loads"
