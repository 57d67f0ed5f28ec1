#!/bin/bash
# Scenario 3 of bench/README.md: steady state. With N idle workers (one worker with N
# instances under vigil; N programs under supervisord), the daemon's CPU share (utime +
# stime from /proc/PID/stat over a window, % of one CPU) and RSS (VmRSS): first with
# nobody asking (vigild's sampler reads every worker's and the slice's cgroup once a
# second: tier_2's metrics.interval, issue 9's "1 s sampling"), then with every worker's
# figures read once a second by a client (vigil: ListWorkers over D-Bus; supervisord:
# getAllProcessInfo over its XML-RPC socket), then (vigil) with /metrics scraped once a
# second, each by one long-lived client.
# vm-timeout: 7200
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"
. "$(dirname "$0")/bench-lib.sh"

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
utime() { awk '{print $14}' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
hz=$(getconf CLK_TCK)

# window PID KEY — CPU % of PID over BENCH_IDLE_WINDOW seconds, and its memory at the end:
# RSS (VmRSS), the anonymous part of it (heap, stacks: the process's own) and PSS (shared
# library pages divided among the processes mapping them), from smaps_rollup.
window() {
    local pid=$1 key=$2 t0 t1 u0 u1
    t0=$(ticks "$pid")
    u0=$(utime "$pid")
    sleep "$BENCH_IDLE_WINDOW"
    t1=$(ticks "$pid")
    u1=$(utime "$pid")
    bench "${key}_cpu_percent $(python3 -c "print(round(($t1 - $t0) / $hz / $BENCH_IDLE_WINDOW * 100, 3))")"
    # The kernel's share (system time: the cgroup files' open/read/close) and the process's.
    bench "${key}_user_percent $(python3 -c "print(round(($u1 - $u0) / $hz / $BENCH_IDLE_WINDOW * 100, 3))")"
    bench "${key}_rss_mb $(python3 -c "print(round($(rss_kb "$pid") / 1024, 1))")"
    bench "${key}_anon_mb $(awk '/^Anonymous:/ {printf "%.1f", $2 / 1024}' "/proc/$pid/smaps_rollup")"
    bench "${key}_pss_mb $(awk '/^Pss:/ {printf "%.1f", $2 / 1024}' "/proc/$pid/smaps_rollup")"
}

# The pollers run in the background with their output closed: $(...) returns once nobody
# holds its pipe.
vigil_poller() { # one client, ListWorkers every second (every worker's figures)
    python3 - >/dev/null 2>&1 <<'PY' &
import subprocess, time
while True:
    subprocess.run(["busctl", "call", "--json=short", "org.vigil.Vigil1", "/org/vigil/Vigil1",
                    "org.vigil.Vigil1.Manager", "ListWorkers", "s", ""],
                   stdout=subprocess.DEVNULL, check=True)
    time.sleep(1)
PY
    echo $!
}
metrics_poller() { # one client, GET /metrics every second (what Prometheus does at 1 s)
    python3 - >/dev/null 2>&1 <<'PY' &
import time, urllib.request
while True:
    urllib.request.urlopen("http://127.0.0.1:9753/metrics", timeout=10).read()
    time.sleep(1)
PY
    echo $!
}
supervisord_poller() {
    python3 - >/dev/null 2>&1 <<'PY' &
import time, xmlrpc.client
from supervisor.xmlrpc import SupervisorTransport
proxy = xmlrpc.client.ServerProxy(
    "http://127.0.0.1", transport=SupervisorTransport(None, None, "unix:///run/bench/supervisor.sock"))
while True:
    proxy.supervisor.getAllProcessInfo()
    time.sleep(1)
PY
    echo $!
}
stop_poller() { # PID — fails if the poller died (its calls failed)
    kill -0 "$1" 2>/dev/null || fail "the poller died: its calls failed"
    kill "$1"
    wait "$1" 2>/dev/null || true
}

vigil_empty
for n in ${BENCH_STEADY_SIZES:-$BENCH_SIZES}; do
    clear_stamps
    assert_eq config-applied "$(instances_config "$n" | vigil_apply)" "reload result"
    wait_stamps "$n" >/dev/null
    wait_for 600 bash -c "[ \$(vigilctl status --json | python3 -c 'import json,sys; print(sum(w[\"state\"] == \"running\" for w in json.load(sys.stdin)[\"workers\"]))') -ge $n ]"
    # Starting N workers at once must not restart any of them (a start job waiting in PID
    # 1's queue is not a start that timed out).
    restarts=$(vigil_json | python3 -c 'import json,sys; print(sum(w["restarts"] for w in json.load(sys.stdin)["workers"]))')
    bench "steady_${n}_vigil_restarts_during_start $restarts"
    assert_eq 0 "$restarts" "worker restarts while starting $n workers"
    sleep "$BENCH_SETTLE"
    vpid=$(main_pid vigild.service)
    window "$vpid" "steady_${n}_vigil_idle"
    poller=$(vigil_poller)
    sleep "$BENCH_WARMUP"
    window "$vpid" "steady_${n}_vigil_sampled"
    stop_poller "$poller"
    poller=$(metrics_poller)
    sleep "$BENCH_WARMUP"
    window "$vpid" "steady_${n}_vigil_scraped"
    stop_poller "$poller"
    bench "steady_${n}_vigil_longest_batch_ms $(curl -fsS http://127.0.0.1:9753/metrics | awk '/^vigil_sampler_longest_batch_seconds / {print $2 * 1000}')"
    # The last sweep's longest batch: wall time (preemption included) and vigild's CPU.
    bench "steady_${n}_vigil_sweep_batch_ms $(curl -fsS http://127.0.0.1:9753/metrics | awk '/^vigil_sampler_last_sweep_longest_batch_seconds / {print $2 * 1000}')"
    bench "steady_${n}_vigil_sweep_batch_cpu_ms $(curl -fsS http://127.0.0.1:9753/metrics | awk '/^vigil_sampler_last_sweep_longest_batch_cpu_seconds / {print $2 * 1000}')"
    bench "steady_${n}_vigil_sweep_ms $(curl -fsS http://127.0.0.1:9753/metrics | awk '/^vigil_sampler_last_sweep_duration_seconds / {print $2 * 1000}')"
    vigil_empty

    clear_stamps
    supervisord_config "$n" >/run/bench/supervisord.conf
    systemd-run --quiet --unit=bench-supervisord /usr/bin/supervisord -n -c /run/bench/supervisord.conf
    wait_stamps "$n" >/dev/null
    sleep "$BENCH_SETTLE"
    spid=$(main_pid bench-supervisord.service)
    window "$spid" "steady_${n}_supervisord_idle"
    poller=$(supervisord_poller)
    sleep "$BENCH_WARMUP"
    window "$spid" "steady_${n}_supervisord_sampled"
    stop_poller "$poller"
    systemctl stop bench-supervisord.service
    clear_stamps
    pass_step "steady state with $n workers measured"
done
