#!/bin/bash
# Scenario 2 of bench/README.md: crash to restart. kill -9 of a worker's main process until
# its replacement runs (the new process's stamp), alternately for a vigil worker (backoff
# 1ms, jitter 0), a plain systemd unit with Restart=always RestartSec=0 and a supervisord
# program (autorestart=true, startsecs=0), all running the same binary. First with nothing
# else running, then with 200 other workers (BENCH_CRASH_OTHERS) under vigil and 200 under
# supervisord.
# vm-timeout: 3600
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"
. "$(dirname "$0")/bench-lib.sh"

V=/run/bench/crash/vigil S=/run/bench/crash/systemd P=/run/bench/crash/supervisord
crash_config() { # OTHERS
    bench_tree
    cat <<YAML
      - name: victim
        command: [$TOOL, stamp, $V]
        backoff: {initial: 1ms, max: 1ms, jitter: 0}
YAML
    (($1 > 0)) && printf '      - name: w\n        instances: %d\n        command: [%s, stamp, %s]\n' "$1" "$TOOL" "$STAMPS"
    return 0
}
setup() { # OTHERS: workers besides each victim
    local others=$1
    mkdir -p $V $S $P
    find /run/bench/crash -type f -delete
    assert_eq config-applied "$(crash_config "$others" | vigil_apply)" "reload result"
    systemd-run --quiet --unit=bench-ref --property=Restart=always --property=RestartSec=0 \
        --property=StartLimitIntervalSec=0 "$TOOL" stamp $S
    supervisord_config "$others" >/run/bench/supervisord.conf
    printf '[program:victim]\ncommand=%s stamp %s\nautostart=true\nautorestart=true\nstartsecs=0\nstartretries=100000\nstdout_logfile=NONE\nstderr_logfile=NONE\n' \
        "$TOOL" "$P" >>/run/bench/supervisord.conf
    systemd-run --quiet --unit=bench-supervisord /usr/bin/supervisord -n -c /run/bench/supervisord.conf
    wait_for 600 bash -c "[ \$(find $V $S $P -type f ! -name '*.tmp' | wc -l) -ge 3 ]"
    wait_for 1800 bash -c "[ \$(find $STAMPS -type f ! -name '*.tmp' | wc -l) -ge $((2 * others)) ]"
    sleep "$BENCH_SETTLE"
}
teardown() {
    systemctl stop bench-ref.service bench-supervisord.service
    vigil_empty
    clear_stamps
}

measure() { # LABEL
    python3 - "$BENCH_CRASHES" "$1" $V $S $P <<'PY' || fail "the crash measurement failed"
import os, statistics, sys, time
n, label, dirs = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
def stamps(d):
    return {f for f in os.listdir(d) if not f.endswith(".tmp")}
def crash(d):
    before = stamps(d)
    pid = max((int(f) for f in before), key=lambda p: int(open(f"{d}/{p}").read()))
    assert pid > 1 and os.path.exists(f"/proc/{pid}"), f"{d}: newest stamp {pid} is not running"
    t0 = time.monotonic_ns()
    os.kill(pid, 9)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        new = stamps(d) - before
        if new:
            return (int(open(f"{d}/{new.pop()}").read()) - t0) / 1e6
        time.sleep(0.002)
    raise SystemExit(f"{d}: no restart within 30 s")
out = {d: [] for d in dirs}
for _ in range(n):
    for d in dirs:
        out[d].append(crash(d))
        time.sleep(1.5)
for d, xs in out.items():
    name = f"crash_{label}_{os.path.basename(d)}_ms"
    q = statistics.quantiles(xs, n=10, method="inclusive")[-1] if len(xs) >= 2 else xs[0]
    print(f"@@BENCH {name}_median {statistics.median(xs):.1f}")
    print(f"@@BENCH {name}_p90 {q:.1f}")
    print(f"@@BENCH {name}_samples {len(xs)}")
    print(f"@@BENCH {name}_all {' '.join(f'{x:.0f}' for x in xs)}")
PY
}

vigil_empty
setup 0
measure idle
teardown
pass_step "crash to restart, idle"
setup "$BENCH_CRASH_OTHERS"
measure "$BENCH_CRASH_OTHERS"
teardown
pass_step "crash to restart, $BENCH_CRASH_OTHERS other workers running"
