#!/bin/bash
# Scenarios 1 and 5 of bench/README.md: cold start of N workers and stop of all of them,
# under vigil (one worker with N instances; N trees of one worker; N ordered children of
# one supervisor), against the floor PID 1 allows (vigil-bench-tool start-units and
# stop-units: the same properties, a window of 64 concurrent calls, or 1 for the
# sequential floor; for N trees each unit in a slice of its own) and against supervisord with N programs. Start: from the command to
# the moment the N-th worker process wrote its stamp (CLOCK_MONOTONIC at its start).
# Stop: the stopping command's own duration (each waits until everything is stopped).
# vm-timeout: 7200
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"
. "$(dirname "$0")/bench-lib.sh"

# Where the CPU of a cold start goes: PID 1, dbus-daemon and journald (CPUUsageNSec of
# init.scope, dbus.service, systemd-journald.service, in ms) consumed between two calls of
# cpu_mark; the caller adds vigild's own.
cpu_mark() {
    local u
    for u in init.scope dbus.service systemd-journald.service; do
        printf '%s ' "$(systemctl show -p CPUUsageNSec --value "$u")"
    done
}
cpu_since() { # KEY MARK — KEY_cpu_{pid1,dbus,journald} since MARK
    local key=$1 i=0 a b
    local -a before after names=(pid1 dbus journald)
    read -r -a before <<<"$2"
    read -r -a after <<<"$(cpu_mark)"
    for ((i = 0; i < 3; i++)); do
        a=${before[i]} b=${after[i]}
        echo "${key}_cpu_${names[i]} $(((b - a) / 1000000))" >>/tmp/cold.txt
    done
}

floor_run() { # N WINDOW KIND (trees: a slice per unit, as vigild gives each tree one)
    local n=$1 w=$2 kind=$3 t0 last out mark slice=bench-floor.slice
    [[ $kind == trees ]] && slice=bench-floor-%d.slice
    clear_stamps
    mark=$(cpu_mark)
    t0=$(now_ns)
    out=$("$TOOL" start-units bench-floor "$n" "$w" "$slice" -- "$TOOL" stamp "$STAMPS") ||
        fail "the floor did not start $n units: $out"
    last=$(wait_stamps "$n")
    cpu_since "cold_${kind}_${n}_floor" "$mark"
    echo "cold_${kind}_${n}_floor $(ms_between "$t0" "$last")" >>/tmp/cold.txt
    echo "cold_${kind}_${n}_floor_first $(ms_between "$t0" "$(first_stamp)")" >>/tmp/cold.txt
    t0=$(now_ns)
    if [[ $kind == ordered ]]; then
        "$TOOL" stop-units bench-floor "$n" 1 >/dev/null || fail "the floor did not stop $n units"
    elif [[ $kind == instances_calls ]]; then
        # One StopUnit per unit, 64 outstanding, as vigild stops a group (one call per worker,
        # each job watched) rather than one transaction for the slice.
        "$TOOL" stop-units bench-floor "$n" 64 >/dev/null || fail "the floor did not stop $n units"
    else
        systemctl stop bench-floor.slice
    fi
    echo "stop_${kind}_${n}_floor $(ms_between "$t0" "$(now_ns)")" >>/tmp/cold.txt
    wait_no_units 'bench-floor-*.service'
}

# vigil_run N KIND CONFIG_FUNCTION [noblock] — cold start: vigild started with the
# configuration (systemctl start returns at READY=1, once every tree is up); then the stop.
# noblock: `systemctl start --no-block` (KIND gets _noblock): nothing waits on PID 1 for
# the start job, so PID 1 does not send every job's signals to a waiting systemctl too.
vigil_run() {
    local n=$1 kind=$2 cfg=$3 t0 t_ready last mark
    systemctl stop vigild.service
    "$cfg" "$n" | vigil_write_config
    clear_stamps
    mark=$(cpu_mark)
    t0=$(now_ns)
    if [[ ${4:-} == noblock ]]; then
        kind=${kind}_noblock
        systemctl start --no-block vigild.service
        last=$(wait_stamps "$n")
        until [[ $(systemctl is-active vigild.service) == active ]]; do sleep 0.2; done
        t_ready=$(now_ns)
    else
        systemctl start vigild.service
        t_ready=$(now_ns)
        last=$(wait_stamps "$n")
    fi
    cpu_since "cold_${kind}_${n}_vigil" "$mark"
    echo "cold_${kind}_${n}_vigil_cpu_vigild $(($(systemctl show -p CPUUsageNSec --value vigild.service) / 1000000))" >>/tmp/cold.txt
    echo "cold_${kind}_${n}_vigil $(ms_between "$t0" "$last")" >>/tmp/cold.txt
    echo "cold_${kind}_${n}_vigil_ready $(ms_between "$t0" "$t_ready")" >>/tmp/cold.txt
    echo "cold_${kind}_${n}_vigil_first $(ms_between "$t0" "$(first_stamp)")" >>/tmp/cold.txt
    # Where vigild's own start goes: PID 1 executed it; it applied the configuration (the
    # config-applied event, CLOCK_MONOTONIC of the journal entry); then the first worker.
    local exec_us applied_us
    exec_us=$(systemctl show -p ExecMainStartTimestampMonotonic --value vigild.service)
    applied_us=$(journalctl -u vigild.service -o json VIGIL_EVENT=config-applied -n 1 |
        python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["__MONOTONIC_TIMESTAMP"])')
    echo "cold_${kind}_${n}_vigil_exec $(ms_between "$t0" "${exec_us}000")" >>/tmp/cold.txt
    echo "cold_${kind}_${n}_vigil_config_applied $(ms_between "$t0" "${applied_us}000")" >>/tmp/cold.txt
    # Stop: one tree (instances stop together, ordered children in reverse order), or
    # every tree through vigil.target (vigild stops them all, each tree in its order).
    t0=$(now_ns)
    if [[ $kind == trees ]]; then
        # As the package's prerm does: `stop vigil.target` alone returns at once (the
        # target is ordered after vigild), vigild.service's stop job waits for the trees.
        systemctl stop vigil.target vigild.service
    else
        vigilctl stop bench >/dev/null
    fi
    echo "stop_${kind}_${n}_vigil $(ms_between "$t0" "$(now_ns)")" >>/tmp/cold.txt
    wait_no_units 'vigil-bench*.service'
    if [[ $kind == trees ]]; then
        printf 'tier: tier_2\ntrees: {}\n' | vigil_write_config
        systemctl start vigil.target
    else
        vigil_empty
    fi
}

supervisord_run() { # N
    local n=$1 t0 last
    supervisord_config "$n" >/run/bench/supervisord.conf
    clear_stamps
    t0=$(now_ns)
    systemd-run --quiet --unit=bench-supervisord /usr/bin/supervisord -n -c /run/bench/supervisord.conf
    last=$(wait_stamps "$n")
    echo "cold_instances_${n}_supervisord $(ms_between "$t0" "$last")" >>/tmp/cold.txt
    echo "cold_instances_${n}_supervisord_first $(ms_between "$t0" "$(first_stamp)")" >>/tmp/cold.txt
    t0=$(now_ns)
    systemctl stop bench-supervisord.service
    echo "stop_instances_${n}_supervisord $(ms_between "$t0" "$(now_ns)")" >>/tmp/cold.txt
}

# Every figure: median, min, max over the repetitions; printed on exit too, so that a
# failure late in the run keeps what was measured before it.
summary() {
    python3 - /tmp/cold.txt <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    k, v = line.split()
    runs[k].append(float(v))
for k, xs in sorted(runs.items()):
    print(f"@@BENCH {k}_ms_median {statistics.median(xs):.1f}")
    print(f"@@BENCH {k}_ms_min {min(xs):.1f}")
    print(f"@@BENCH {k}_ms_max {max(xs):.1f}")
PY
}
trap summary EXIT
: >/tmp/cold.txt
vigil_empty
# race N WINDOW KIND CONFIG_FUNCTION — the floor and vigil, alternating which goes first
# from one repetition ($rep) to the next, so that a drift within the boot favours neither.
race() {
    if ((rep % 2 == 0)); then
        floor_run "$1" "$2" "$3"
        vigil_run "$1" "$3" "$4"
    else
        vigil_run "$1" "$3" "$4"
        floor_run "$1" "$2" "$3"
    fi
}
# BENCH_KINDS: which of the races run (all by default).
KINDS=${BENCH_KINDS:-instances trees supervisord ordered}
for k in $KINDS; do
    [[ " instances trees supervisord ordered " == *" $k "* ]] ||
        fail "BENCH_KINDS: unknown race '$k' (instances, trees, supervisord, ordered)"
done
want() { [[ " $KINDS " == *" $1 "* ]]; }
for n in $BENCH_SIZES; do
    reps=$BENCH_REPS
    ((n >= 1000)) && reps=$BENCH_REPS_LARGE
    for ((rep = 0; rep < reps; rep++)); do
        if want instances; then
            race "$n" 64 instances instances_config
            ((n <= 200)) && floor_run "$n" 64 instances_calls
            ((n <= 200)) && vigil_run "$n" instances instances_config noblock
        fi
        # vigil.yaml(5) allows at most 64 trees (kMaxTrees).
        if want trees && ((n <= 64)); then
            race "$n" 64 trees trees_config
        fi
        want supervisord && supervisord_run "$n"
        # Ordered children start one after another: 1000 of them take minutes under
        # emulation, so the sequential figures stop at 200.
        if want ordered && ((n <= 200)); then
            race "$n" 1 ordered ordered_config
        fi
    done
    # vigild keeps 64 jobs outstanding; how the floor fares with fewer and with more.
    if want instances && ((n >= 1000)); then
        floor_run "$n" 16 instances_w16
        floor_run "$n" 256 instances_w256
    fi
    pass_step "cold start and stop of $n workers measured"
done
