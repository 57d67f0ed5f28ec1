#!/bin/bash
# A two-level tree: each supervisor is a slice that mirrors its place (vigil-pipe.slice >
# vigil-pipe-parse.slice), created by vigild with the supervisor's budget, which the
# kernel then enforces for all workers below it together. Changing the budget in the
# configuration updates the live slice; removing it removes the limit. A tree without a
# budget gets no slice call (PID 1 loads its slice implicitly); a vigild restart with
# unchanged budgets changes nothing on the slices, and a budget changed while vigild was
# down applies when it starts.
# vm-timeout: 420
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

# pipe_config PIPE_LIMITS [PLAIN_LINE] — tree pipe (a supervisor with a nested one), with
# PIPE_LIMITS as its budget; with PLAIN_LINE, tree plain too, that line in its mapping.
pipe_config() {
    cat <<YAML
tier: tier_2
trees:
  pipe:
    limits: $1
    children:
      - {name: fetch, command: [$VIGIL_WORKER_BIN]}
      - name: parse
        strategy: one_for_all
        limits: {memory_max: 128M, cpu_quota: 150%}
        children:
          - {name: csv, command: [$VIGIL_WORKER_BIN]}
          - {name: json, command: [$VIGIL_WORKER_BIN]}
YAML
    [[ -z ${2:-} ]] || printf '  plain:\n    %s\n    children:\n      - {name: p, command: [%s]}\n' \
        "$2" "$VIGIL_WORKER_BIN"
}

result=$(pipe_config '{memory_max: 256M, tasks_max: 100}' | vigil_apply)
assert_eq config-applied "$result" "reload result"
for u in vigil-pipe-fetch vigil-pipe-parse-csv vigil-pipe-parse-json; do wait_unit_active $u.service 90; done
assert_eq /vigil.slice/vigil-pipe.slice/vigil-pipe-parse.slice/vigil-pipe-parse-csv.service \
    "$(unit_prop vigil-pipe-parse-csv.service ControlGroup)" "csv ControlGroup"
# vigild computes each worker's cgroup instead of asking PID 1: the API's `cgroup` must be
# PID 1's ControlGroup, and the figures read from it must be there.
for u in vigil-pipe-fetch vigil-pipe-parse-csv vigil-pipe-parse-json; do
    busctl call --json=short org.vigil.Vigil1 /org/vigil/Vigil1 org.vigil.Vigil1.Manager \
        ListWorkers s pipe >/tmp/workers.json
    read -r cg mem < <(python3 - "$u.service" /tmp/workers.json <<'PY'
import json, sys
unit, path = sys.argv[1], sys.argv[2]
for w in json.load(open(path))["data"][0]:
    if w["unit"]["data"] == unit:
        m = w.get("memory_current_bytes", {}).get("data")
        print(w["cgroup"]["data"], "none" if m is None else m)
PY
    )
    assert_eq "$(unit_prop $u.service ControlGroup)" "$cg" "$u: vigild's cgroup"
    [[ $mem =~ ^[0-9]+$ && $mem -gt 0 ]] || fail "$u: no memory figure read from $cg ($mem)"
done
root=/sys/fs/cgroup/vigil.slice/vigil-pipe.slice
assert_eq 268435456 "$(cat $root/memory.max)" "tree slice memory.max"
assert_eq 100 "$(cat $root/pids.max)" "tree slice pids.max"
assert_eq 134217728 "$(cat $root/vigil-pipe-parse.slice/memory.max)" "sub-supervisor slice memory.max"
assert_eq "150000 100000" "$(cat $root/vigil-pipe-parse.slice/cpu.max)" "sub-supervisor slice cpu.max"
assert_eq yes "$(unit_prop vigil-pipe.slice Transient)" "tree slice is a transient unit"
pass_step "slices mirror the tree and carry the budgets"

result=$(pipe_config '{memory_max: 300M}' | vigil_apply)
assert_eq config-applied "$result" "reload result"
wait_for 30 bash -c "[ \$(cat $root/memory.max) = 314572800 ]"
wait_for 30 bash -c "[ \$(cat $root/pids.max) = max ]"
pass_step "budget changes apply to the live slice; a removed limit is lifted"

assert_eq config-applied "$(pipe_config '{memory_max: 300M}' 'strategy: one_for_one' | vigil_apply)" "reload result"
wait_unit_active vigil-plain-p.service 90
assert_eq /vigil.slice/vigil-plain.slice/vigil-plain-p.service \
    "$(unit_prop vigil-plain-p.service ControlGroup)" "budget-less tree's worker ControlGroup"
assert_eq no "$(unit_prop vigil-plain.slice Transient)" "budget-less tree: PID 1's implicit slice"
echo "budget-less tree's slice: $(unit_prop vigil-plain.slice Description)"
assert_eq "" "$(unit_prop vigil-plain.slice DropInPaths)" "budget-less tree: no drop-in on its slice"
assert_eq max "$(cat /sys/fs/cgroup/vigil.slice/vigil-plain.slice/memory.max)" "plain memory.max"
assert_eq config-applied "$(pipe_config '{memory_max: 300M}' 'limits: {memory_max: 64M}' | vigil_apply)" \
    "reload result"
wait_for 30 bash -c "[ \$(cat /sys/fs/cgroup/vigil.slice/vigil-plain.slice/memory.max) = 67108864 ]"
pass_step "a tree without a budget gets PID 1's implicit slice; a budget added later applies live"

# What PID 1 wrote for the slices' runtime properties (drop-ins), with their times.
slice_dropins() {
    find /run/systemd/system.control /run/systemd/transient -path '*vigil-*.slice*' -type f \
        -printf '%p %T@\n' 2>/dev/null | sort
}
before=$(slice_dropins)
[[ -n $before ]] || fail "no runtime settings found for the slices"
fetch_pid=$(main_pid vigil-pipe-fetch.service)
systemctl restart vigild.service
assert_eq "$before" "$(slice_dropins)" "slice settings after a vigild restart"
assert_eq "$fetch_pid" "$(main_pid vigil-pipe-fetch.service)" "fetch adopted, not restarted"
assert_eq 314572800 "$(cat $root/memory.max)" "tree slice memory.max after the restart"
pass_step "a vigild restart with unchanged budgets writes nothing for the slices"

systemctl stop vigild.service
pipe_config '{memory_max: 200M}' 'strategy: one_for_one' | vigil_write_config
systemctl start vigild.service
wait_for 30 bash -c "[ \$(cat $root/memory.max) = 209715200 ]"
wait_for 30 bash -c "[ \$(cat /sys/fs/cgroup/vigil.slice/vigil-plain.slice/memory.max) = max ]"
assert_eq "$fetch_pid" "$(main_pid vigil-pipe-fetch.service)" "fetch adopted, not restarted"
pass_step "budgets changed while vigild was down apply when it starts"

# A budget given and taken back while the slice's call waits for a job slot behind a mass
# start (150 instances of tree crowd, 64 jobs at a time): the slice ends with the last
# budget asked for (calls for one slice run one at a time, in order).
with_crowd() { # PLAIN_LINE
    pipe_config '{memory_max: 200M}' "$1"
    printf '  crowd:\n    children:\n      - name: w\n        command: [/usr/bin/sleep, infinity]\n        instances: 150\n'
}
assert_eq config-applied "$(with_crowd 'strategy: one_for_one' | vigil_apply)" "reload result"
assert_eq config-applied "$(with_crowd 'limits: {memory_max: 32M}' | vigil_apply)" "reload result"
assert_eq config-applied "$(with_crowd 'strategy: one_for_one' | vigil_apply)" "reload result"
_crowd_up() {
    (($(systemctl list-units --plain --no-legend --state=active 'vigil-crowd-w@*.service' | wc -l) == 150))
}
wait_for 300 _crowd_up
sleep 3
assert_eq max "$(cat /sys/fs/cgroup/vigil.slice/vigil-plain.slice/memory.max)" \
    "plain memory.max after its budget was given and taken back during a mass start"
pass_step "budget changes queued behind a mass start apply in order"
