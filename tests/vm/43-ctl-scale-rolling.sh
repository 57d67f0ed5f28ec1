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
# Sample the three units every 50 ms while the rolling restart runs.
( while :; do
    n=0
    for i in 1 2 3; do systemctl is-active --quiet "vigil-app-w@$i.service" || n=$((n + 1)); done
    echo "$n"
    sleep 0.05
done ) >/tmp/down.log &
sampler=$!
declare -A before
for i in 1 2 3; do before[$i]=$(main_pid "vigil-app-w@$i.service"); done
ctl_expect 0 restart --rolling app/w
kill "$sampler"
wait "$sampler" 2>/dev/null || true
for i in 1 2 3; do
    [[ $(main_pid "vigil-app-w@$i.service") != "${before[$i]}" ]] || fail "w@$i was not restarted"
done
max=$(sort -n /tmp/down.log | tail -n 1)
echo "samples: $(wc -l </tmp/down.log), most instances down at once: $max"
[[ $max -le 1 ]] || fail "two instances were down at once during the rolling restart"
grep -q 1 /tmp/down.log || echo "note: no sample caught an instance down (restarts were quick)"
pass_step "restart --rolling: every instance restarted, never two down at once"
