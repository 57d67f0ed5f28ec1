#!/bin/bash
# Scenario 4 of bench/README.md: one sampling pass over N worker cgroups, with vigild's
# CgroupDirectory (vigil-bench-sweep: directories kept open, the sampler's 16 files, one
# reused buffer, as daemon/MetricsSampler reads) against a C loop doing the same with
# openat/read/close (vigil-bench-tool read-cgroups), alternately, 5 times each; per-cgroup
# time of each.
# vm-timeout: 3600
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"
. "$(dirname "$0")/bench-lib.sh"

n=${BENCH_SIZES##* }
vigil_empty
clear_stamps
assert_eq config-applied "$(instances_config "$n" | vigil_apply)" "reload result"
wait_stamps "$n" >/dev/null
mapfile -t cgroups < <(systemctl show -p ControlGroup --value 'vigil-bench-w@*.service' | grep .)
assert_eq "$n" "${#cgroups[@]}" "worker cgroups found"
rounds=20
vigil=() floor=()
for _ in 1 2 3 4 5; do
    out=$("$SWEEP" "$rounds" "${cgroups[@]}") || fail "vigil-bench-sweep: $out"
    [[ $out == *"missing 0" ]] || fail "vigil-bench-sweep found cgroups gone: $out"
    vigil+=("$(awk -v n="$n" -v r="$rounds" '{print $6 / n / r / 1000}' <<<"$out")")
    out=$("$TOOL" read-cgroups "$rounds" "${cgroups[@]/#//sys/fs/cgroup}") || fail "read-cgroups: $out"
    # Files the kernel does not have here (PSI off, a controller not enabled) are
    # missing for both; reported once.
    [[ -n ${missing:-} ]] || { missing=$(awk '{print $8}' <<<"$out"); bench "sweep_${n}_floor_missing_files_per_round $((missing / rounds))"; }
    floor+=("$(awk -v n="$n" -v r="$rounds" '{print $6 / n / r / 1000}' <<<"$out")")
done
stats "sweep_${n}_vigil_us_per_cgroup" "${vigil[@]}"
stats "sweep_${n}_floor_us_per_cgroup" "${floor[@]}"
vigil_empty
pass_step "metrics sweep over $n cgroups measured"
