#!/bin/bash
# vigilctl scale changes the instance count live (2 -> 5 -> 1; new instances start, the
# surplus stops highest first), and restart --rolling restarts instances one at a time:
# never two down at once, each new process up before the next goes.
# vm-timeout: 400
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

vigil_start_ctl_tree 2
ctl_expect 0 scale app/w 5
grep -q "lasts until the next reload" <<<"$ctl_out" || fail "no lifetime note: $ctl_out"
for i in 1 2 3 4 5; do wait_unit_active "vigil-app-w@$i.service" 30; done
assert_eq 5 "$(vigil_json | python3 -c 'import json,sys; print(len([w for w in json.load(sys.stdin)["workers"] if w["path"].startswith("app/w@")]))')" "instances in status"
pass_step "scale 2 -> 5: three new instances run"
pid1=$(main_pid vigil-app-w@1.service)
ctl_expect 0 scale app/w 1
for i in 2 3 4 5; do assert_eq inactive "$(unit_prop "vigil-app-w@$i.service" ActiveState)" "w@$i after scale 1"; done
assert_eq "$pid1" "$(main_pid vigil-app-w@1.service)" "w@1 kept its process"
order=$(journal_since_test _SYSTEMD_UNIT=vigild.service VIGIL_EVENT=worker-stopped -o json |
    python3 -c 'import json,sys; print(" ".join(w for w in (json.loads(l).get("VIGIL_WORKER", "") for l in sys.stdin) if w))')
assert_eq "app/w@5 app/w@4 app/w@3 app/w@2" "$order" "stop order of the surplus"
pass_step "scale 5 -> 1: the surplus stops highest first, w@1 untouched"
ctl_expect 2 scale app/w -1
ctl_expect 2 scale app/w 1001
ctl_expect 4 scale app/a@1 2
pass_step "bad counts are refused"

ctl_expect 0 scale app/w 3
for i in 1 2 3; do wait_unit_active "vigil-app-w@$i.service" 30; done
# "Never two down at once" is read from systemd's own journal, not sampled: a poll of the
# three units one after another is not atomic (instance 1 read down, then instance 2 read
# down after 1 came back, counts two). PID 1 logs "Stopping" (MESSAGE_ID unit-stopping)
# when a stop job begins and "Started" (unit-started) when a start job finishes, each with
# UNIT= and a monotonic timestamp, so the down intervals are exact.
# Entries are taken by CLOCK_MONOTONIC (journald's __MONOTONIC_TIMESTAMP, one boot).
t0=$(python3 -c 'import time; print(int(time.clock_gettime(time.CLOCK_MONOTONIC) * 1e6))')
declare -A before
for i in 1 2 3; do before[$i]=$(main_pid "vigil-app-w@$i.service"); done
ctl_expect 0 restart --rolling app/w
for i in 1 2 3; do
    [[ $(main_pid "vigil-app-w@$i.service") != "${before[$i]}" ]] || fail "w@$i was not restarted"
done
# journald stores PID 1's lines asynchronously: the check waits until every instance has
# its "Started" (exit 3 until then).
rolling_check() {
    journal_since_test _PID=1 -o json | T0=$t0 python3 -c '
import json, os, sys
STOPPING, STARTED = "de5b426a63be47a7b6ac3eaac82e2f6f", "39f53479d3a045ac8e11786248231fbf"
units = {"vigil-app-w@%d.service" % i for i in (1, 2, 3)}
entries = []
for line in sys.stdin:
    e = json.loads(line)
    if int(e["__MONOTONIC_TIMESTAMP"]) < int(os.environ["T0"]):
        continue
    if e.get("UNIT") in units and e.get("MESSAGE_ID") in (STOPPING, STARTED):
        entries.append((int(e["__MONOTONIC_TIMESTAMP"]), e["MESSAGE_ID"], e["UNIT"]))
entries.sort()
down, most, cycled = set(), 0, set()
for _, kind, unit in entries:
    if kind == STOPPING:
        down.add(unit)
        most = max(most, len(down))
    elif unit in down:
        down.discard(unit)
        cycled.add(unit)
if cycled != units or down:
    sys.exit(3)
print("journal: %d stop/start entries, most instances down at once: %d" % (len(entries), most))
if most > 1:
    sys.exit("%d instances were down at once during the rolling restart" % most)
'
}
deadline=$((SECONDS + 20))
while :; do
    rc=0
    rolling_check || rc=$?
    ((rc == 3 && SECONDS < deadline)) || break
    sleep 0.5
done
if ((rc == 3)); then
    journal_since_test _PID=1 -o short-monotonic | grep vigil-app-w@ | tail -n 30
    fail "no Stopping then Started in the journal for every instance (above)"
fi
((rc == 0)) || fail "rolling restart order (see above)"
pass_step "restart --rolling: every instance restarted, never two down at once"
