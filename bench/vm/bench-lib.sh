# shellcheck shell=bash
# Helpers of the benchmark scripts (bench/README.md); source after lib.sh and vigil-lib.sh.
# Every figure is printed as "@@BENCH KEY VALUE"; bench/report turns them into the table.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=/dev/null
[[ -f $BENCH_DIR/bench.env ]] && . "$BENCH_DIR/bench.env"
BENCH_QUICK=${BENCH_QUICK:-0}
if ((BENCH_QUICK)); then
    BENCH_SIZES=${BENCH_SIZES:-20}
    BENCH_REPS=${BENCH_REPS:-1}
    BENCH_REPS_LARGE=${BENCH_REPS_LARGE:-1}
    BENCH_CRASHES=${BENCH_CRASHES:-5}
    # Short windows: the quick run checks that every scenario works, its figures are
    # indicative only (CI keeps the whole suite under 30 minutes).
    BENCH_IDLE_WINDOW=${BENCH_IDLE_WINDOW:-6}
    BENCH_CRASH_OTHERS=${BENCH_CRASH_OTHERS:-20}
    BENCH_SETTLE=${BENCH_SETTLE:-3}
    BENCH_WARMUP=${BENCH_WARMUP:-3}  # a poller started, before its window
else
    BENCH_SIZES=${BENCH_SIZES:-50 200 1000}
    BENCH_REPS=${BENCH_REPS:-3}
    BENCH_REPS_LARGE=${BENCH_REPS_LARGE:-1} # for N >= 1000: each repetition takes minutes
    BENCH_CRASHES=${BENCH_CRASHES:-51}
    BENCH_IDLE_WINDOW=${BENCH_IDLE_WINDOW:-60}
    BENCH_CRASH_OTHERS=${BENCH_CRASH_OTHERS:-200}
    BENCH_SETTLE=${BENCH_SETTLE:-20}
    BENCH_WARMUP=${BENCH_WARMUP:-5}
fi
TOOL=$BENCH_DIR/vigil-bench-tool
SWEEP=$BENCH_DIR/vigil-bench-sweep
[[ -x $TOOL && -x $SWEEP ]] || fail "vigil-bench-tool and vigil-bench-sweep must be next to the scripts"
STAMPS=/run/bench/stamps
mkdir -p "$STAMPS"
chmod 0755 /run/bench

bench() { echo "@@BENCH $*"; }

# stats NAME VALUE... — NAME_median, NAME_min, NAME_max (and NAME_p90 with 10 or more).
stats() {
    local name=$1
    shift
    python3 - "$name" "$@" <<'PY'
import statistics, sys
name, xs = sys.argv[1], [float(x) for x in sys.argv[2:]]
print(f"@@BENCH {name}_median {statistics.median(xs):.1f}")
print(f"@@BENCH {name}_min {min(xs):.1f}")
print(f"@@BENCH {name}_max {max(xs):.1f}")
if len(xs) >= 10:
    print(f"@@BENCH {name}_p90 {statistics.quantiles(xs, n=10, method='inclusive')[-1]:.1f}")
print(f"@@BENCH {name}_samples {len(xs)}")
PY
}

now_ns() { "$TOOL" now; }

# wait_stamps N [LIMIT_S] — until N stamp files exist; prints the newest stamp (ns): when
# the last worker started.
wait_stamps() {
    local want=$1 limit=${2:-1800} deadline n
    deadline=$((SECONDS + limit))
    while :; do
        n=$(find "$STAMPS" -maxdepth 1 -type f ! -name '*.tmp' | wc -l)
        ((n >= want)) && break
        ((SECONDS < deadline)) || fail "only $n of $want workers started within ${limit}s"
        sleep 0.5
    done
    find "$STAMPS" -maxdepth 1 -type f ! -name '*.tmp' -exec cat {} + | sort -n | tail -n 1
}
# first_stamp — the oldest stamp (ns): when the first worker started.
first_stamp() {
    find "$STAMPS" -maxdepth 1 -type f ! -name '*.tmp' -exec cat {} + |
        awk 'NR == 1 || $1 + 0 < m + 0 { m = $1 } END { print m }'
}

clear_stamps() { find "$STAMPS" -mindepth 1 -delete; }

ms_between() { python3 -c "print(round(($2 - $1) / 1e6, 1))"; }

# active_units PATTERN — how many units matching PATTERN are active.
active_units() { systemctl list-units --plain --no-legend --state=active "$1" | wc -l; }

# wait_no_units PATTERN — until no unit matching PATTERN is loaded.
wait_no_units() {
    local deadline=$((SECONDS + 900))
    while [[ -n $(systemctl list-units --all --plain --no-legend "$1") ]]; do
        ((SECONDS < deadline)) || fail "units $1 still loaded after 15 min"
        sleep 1
    done
}

# vigil_empty — vigild running with no trees, every bench worker gone.
vigil_empty() {
    assert_eq config-applied "$(printf 'tier: tier_2\ntrees: {}\n' | vigil_apply)" "reload result"
    wait_no_units 'vigil-bench*.service'
}

# The worker configurations. instances_config N: one worker with N instances;
# trees_config N: N trees of one worker each; ordered_config N: one supervisor with N
# children, started one after another (OTP order).
# bench_tree — the head of a configuration with one tree `bench` whose intensity never
# stops a benchmark; its children follow.
bench_tree() {
    printf 'tier: tier_2\ntrees:\n  bench:\n    intensity: {max_restarts: 100000, period: 1h}\n    children:\n'
}
instances_config() {
    bench_tree
    cat <<YAML
      - name: w
        instances: $1
        command: [$TOOL, stamp, $STAMPS]
        stop: {timeout: 10s}
YAML
}
trees_config() {
    echo "tier: tier_2"
    echo "trees:"
    local i
    for ((i = 0; i < $1; i++)); do
        printf '  bench%d:\n    children:\n      - name: w\n        command: [%s, stamp, %s]\n        stop: {timeout: 10s}\n' \
            "$i" "$TOOL" "$STAMPS"
    done
}
ordered_config() {
    bench_tree
    local i
    for ((i = 0; i < $1; i++)); do
        printf '      - name: w%d\n        command: [%s, stamp, %s]\n        stop: {timeout: 10s}\n' \
            "$i" "$TOOL" "$STAMPS"
    done
}

# supervisord_config N — N programs of the same worker, as an operator would write them
# for a fair race: no start delay to count as running (startsecs=0), restarted at once.
supervisord_config() {
    cat <<CONF
[supervisord]
nodaemon=true
minfds=16384
minprocs=4096
logfile=/run/bench/supervisord.log
pidfile=/run/bench/supervisord.pid
childlogdir=/run/bench
[unix_http_server]
file=/run/bench/supervisor.sock
[supervisorctl]
serverurl=unix:///run/bench/supervisor.sock
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
CONF
    local i
    for ((i = 0; i < $1; i++)); do
        printf '[program:w%d]\ncommand=%s stamp %s\nautostart=true\nautorestart=true\nstartsecs=0\nstartretries=1000\nstdout_logfile=NONE\nstderr_logfile=NONE\nstopwaitsecs=10\n' \
            "$i" "$TOOL" "$STAMPS"
    done
}
