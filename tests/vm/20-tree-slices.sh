#!/bin/bash
# A two-level tree: each supervisor is a slice that mirrors its place (vigil-pipe.slice >
# vigil-pipe-parse.slice), created by vigild with the supervisor's budget, which the
# kernel then enforces for all workers below it together. Changing the budget in the
# configuration updates the live slice; removing it removes the limit.
# vm-timeout: 300
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

result=$(vigil_apply <<YAML
tier: tier_2
trees:
  pipe:
    limits: {memory_max: 256M, tasks_max: 100}
    children:
      - {name: fetch, command: [$VIGIL_WORKER_BIN]}
      - name: parse
        strategy: one_for_all
        limits: {memory_max: 128M, cpu_quota: 150%}
        children:
          - {name: csv, command: [$VIGIL_WORKER_BIN]}
          - {name: json, command: [$VIGIL_WORKER_BIN]}
YAML
)
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

result=$(vigil_apply <<YAML
tier: tier_2
trees:
  pipe:
    limits: {memory_max: 300M}
    children:
      - {name: fetch, command: [$VIGIL_WORKER_BIN]}
      - name: parse
        strategy: one_for_all
        limits: {memory_max: 128M, cpu_quota: 150%}
        children:
          - {name: csv, command: [$VIGIL_WORKER_BIN]}
          - {name: json, command: [$VIGIL_WORKER_BIN]}
YAML
)
assert_eq config-applied "$result" "reload result"
wait_for 30 bash -c "[ \$(cat $root/memory.max) = 314572800 ]"
wait_for 30 bash -c "[ \$(cat $root/pids.max) = max ]"
pass_step "budget changes apply to the live slice; a removed limit is lifted"
