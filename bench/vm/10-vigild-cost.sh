#!/bin/bash
# What vigild costs, side by side with systemd in the same boot (bench/README.md):
#  1. idle CPU of vigild with 200 and with 1000 workers running (nothing happening,
#     nobody asking): vigild's utime+stime over a window, as % of one CPU;
#  2. crash-to-restart with 200 workers running: kill -9 of a worker's main process to
#     its new process running, for a vigil worker (backoff 1ms) and for a plain systemd
#     unit with Restart=always RestartSec=0, alternately, median of both and their ratio.
# Targets (issue 7): idle < 0.5 % at 200 and < 1 % at 1000; ratio <= 1.2.
# Prints "@@BENCH key value" lines; fails if a target is missed.
# vm-timeout: 3600
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

# shellcheck source=/dev/null
[[ -f $(dirname "$0")/bench.env ]] && . "$(dirname "$0")/bench.env"
IDLE_WINDOW=${BENCH_IDLE_WINDOW:-60}
CRASHES=${BENCH_CRASHES:-51}
bench() { echo "@@BENCH $*"; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
missed=()

fleet() { # N [extra YAML children]
    cat <<YAML
tier: tier_2
trees:
  bench:
    intensity: {max_restarts: 1000, period: 10min}
    children:
      - name: s
        instances: $1
        command: [/bin/sleep, infinity]
        stop: {timeout: 2s}
${2:-}
YAML
}

wait_running() { # N
    local want=$1 deadline=$((SECONDS + 1800)) n
    while ((SECONDS < deadline)); do
        n=$(systemctl list-units --plain --no-legend --state=active 'vigil-bench-*.service' | wc -l)
        ((n >= want)) && return 0
        sleep 5
    done
    fail "only $n of $want workers running after 30 min"
}

idle() { # N TARGET_PERCENT
    local n=$1 target=$2 t_start
    t_start=$SECONDS
    assert_eq config-applied "$(fleet "$n" | vigil_apply)" "reload result"
    wait_running "$n"
    bench "start_${n}_seconds $((SECONDS - t_start))"
    # Settled when vigild itself counts N running (it may still be working through the
    # signals of the start), then 20 s more.
    local deadline=$((SECONDS + 600)) seen
    local t_call err
    while :; do
        t_call=$SECONDS
        if vigilctl status --json >/tmp/status.json 2>/tmp/status.err; then
            seen=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(w["state"] == "running" for w in d["workers"]))' /tmp/status.json)
            err=
        else
            seen=0 err="$(head -c 300 /tmp/status.err) (after $((SECONDS - t_call)) s)"
            echo "vigilctl status --json: $err"
        fi
        ((seen >= n)) && break
        ((SECONDS < deadline)) || fail "vigild counts $seen of $n workers running after 10 min${err:+; vigilctl status --json: $err}"
        sleep 5
    done
    bench "settled_${n}_seconds $((SECONDS - t_start))"
    sleep 20
    local vpid p1 v0 v1 s0 s1 pct pct1
    vpid=$(main_pid vigild.service)
    v0=$(ticks "$vpid")
    s0=$(ticks 1)
    sleep "$IDLE_WINDOW"
    v1=$(ticks "$vpid")
    s1=$(ticks 1)
    pct=$(python3 -c "print(round(($v1 - $v0) / $hz / $IDLE_WINDOW * 100, 3))")
    pct1=$(python3 -c "print(round(($s1 - $s0) / $hz / $IDLE_WINDOW * 100, 3))")
    bench "idle_cpu_vigild_${n}_percent $pct"
    bench "idle_cpu_pid1_${n}_percent $pct1"
    python3 -c "import sys; sys.exit(0 if $pct < $target else 1)" ||
        missed+=("idle CPU with $n workers: $pct % (target < $target %)")
    # Starting N workers at once must not restart any of them (a start job waiting in
    # PID 1's queue is not a start that timed out).
    local restarts
    restarts=$(vigil_json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(sum(w["restarts"] for w in d["workers"]))')
    bench "restarts_during_start_${n} $restarts"
    ((restarts == 0)) || missed+=("$restarts worker restart(s) while starting $n workers")
}

idle 200 0.5

# Crash to restart, 200 workers running: 199 sleepers + the victim; the reference unit
# runs the same binary under plain systemd.
worker=$VIGIL_WORKER_BIN
mkdir -p /run/bench
assert_eq config-applied "$(fleet 199 "      - name: victim
        command: [$worker, --stamp, /run/bench/vigil.stamp]
        backoff: {initial: 1ms, max: 1ms, jitter: 0}" | vigil_apply)" "reload result"
wait_running 200
wait_unit_active vigil-bench-victim.service 300
systemd-run --unit=bench-ref --property=Restart=always --property=RestartSec=0 \
    --property=StartLimitIntervalSec=0 "$worker" --stamp /run/bench/ref.stamp >/dev/null
wait_unit_active bench-ref.service 30
sleep 10
python3 - "$CRASHES" >/tmp/crash.txt <<'PY' || fail "the crash measurement failed"
import os, statistics, subprocess, sys, time
n = int(sys.argv[1])
def main_pid(unit):
    return int(subprocess.check_output(["systemctl", "show", "-p", "MainPID", "--value", unit]))
def read(path):
    try:
        return open(path).read().strip()
    except FileNotFoundError:
        return ""
def crash(unit, stamp):
    old = read(stamp)
    pid = main_pid(unit)
    assert pid > 1
    t0 = time.monotonic_ns()
    os.kill(pid, 9)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        s = read(stamp)
        if s and s != old:
            return (int(s) - t0) / 1e6
        time.sleep(0.002)
    raise SystemExit(f"{unit} did not restart within 30 s")
vigil, ref = [], []
for i in range(n):
    for unit, stamp, out in (("vigil-bench-victim.service", "/run/bench/vigil.stamp", vigil),
                             ("bench-ref.service", "/run/bench/ref.stamp", ref)):
        out.append(crash(unit, stamp))
        time.sleep(1.5)
mv, mr = statistics.median(vigil), statistics.median(ref)
print(f"crash_restart_vigil_ms_median {mv:.1f}")
print(f"crash_restart_systemd_ms_median {mr:.1f}")
print(f"crash_restart_ratio {mv / mr:.3f}")
def p90(xs):
    return statistics.quantiles(xs, n=10, method="inclusive")[-1]
print(f"crash_restart_vigil_ms_p90 {p90(vigil):.1f}")
print(f"crash_restart_systemd_ms_p90 {p90(ref):.1f}")
print(f"crash_restart_samples {n}")
print(f"crash_restart_vigil_ms_all {' '.join(f'{x:.0f}' for x in vigil)}")
print(f"crash_restart_systemd_ms_all {' '.join(f'{x:.0f}' for x in ref)}")
PY
while read -r k v; do bench "$k $v"; done </tmp/crash.txt
ratio=$(awk '$1 == "crash_restart_ratio" {print $2}' /tmp/crash.txt)
python3 -c "import sys; sys.exit(0 if $ratio <= 1.2 else 1)" ||
    missed+=("crash-to-restart ratio $ratio (target <= 1.2)")
systemctl stop bench-ref.service

# Last, as the fleet only grows from here: 1000 workers.
idle 1000 1.0

if ((${#missed[@]})); then
    printf 'target missed: %s\n' "${missed[@]}"
    fail "${#missed[@]} target(s) missed"
fi
pass_step "every target met"
