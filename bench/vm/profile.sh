#!/bin/bash
# bench/run --profile: where vigild's time and memory go, for the misses of bench/RESULTS.md.
# Not one of the numbered scenarios (it is run only by name); it needs the package's debug
# symbols (vigil-dbgsym, put next to this script by bench/run) and valgrind + strace
# (in the VM image). Under emulation wall times are noise, instruction counts are not
# (callgrind counts the same under TCG as on hardware), so:
#   1. callgrind: vigild's instructions per phase (each a dump of its own, counters zeroed
#      in between): N ordered children started and stopped; N instances started; ListWorkers
#      of N workers, 10 times. Printed: total Ir, and the top functions (inclusive).
#   2. strace: the ordered start as a timeline of vigild's D-Bus traffic: per child, from
#      vigild receiving the JobRemoved of child i to sending StartTransientUnit of child
#      i+1 (vigild's reaction) and from that call to its JobRemoved (PID 1), and the same
#      for the floor client; plus vigild's syscalls per child.
#   3. memory: VmRSS split into anonymous and file-backed pages (smaps_rollup) at 0 and N
#      instances, and a massif profile of the heap at N instances.
#   4. notify: what vigild's sd_notify messages (STATUS=) cost PID 1
#      in an ordered start, by letting PID 1 ignore them in alternate rounds.
#   5. startup: vigild's own start under strace, from execve to its workers' calls (not in
#      the default PROFILE_PARTS).
# vm-timeout: 7200
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"
. "$(dirname "$0")/bench-lib.sh"

ORDERED=${PROFILE_ORDERED:-50}
CG_INSTANCES=${PROFILE_CG_INSTANCES:-200} # under callgrind
INSTANCES=${PROFILE_INSTANCES:-1000}
STRACED=${PROFILE_STRACED:-20} # ordered children under strace (it slows each syscall down)
PARTS=${PROFILE_PARTS:-callgrind strace memory notify} # which of the parts below to run
want() { [[ " $PARTS " == *" $1 "* ]]; }
OUT=/run/bench/profile
mkdir -p "$OUT"
note() { echo "[$(date +%T)] $*"; }
{ command -v valgrind && command -v strace; } >/dev/null ||
    fail "valgrind and strace must be in the VM image (scripts/vm/build-image)"
ls "$BENCH_DIR"/vigil-dbgsym_* >/dev/null 2>&1 ||
    fail "no vigil-dbgsym package next to the script (bench/run copies it from next to the .deb)"
dpkg -i "$BENCH_DIR"/vigil-dbgsym_* >/dev/null || fail "installing vigil-dbgsym failed"

# vigild_under COMMAND... — vigild.service runs /usr/sbin/vigild under COMMAND (empty: as
# packaged). The sandbox is relaxed for the tools (valgrind's JIT writes code, its output
# goes to /run); no watchdog and no start timeout (valgrind is 50x slower).
vigild_under() {
    local d=/run/systemd/system/vigild.service.d
    systemctl stop vigild.service
    rm -rf "$d"
    if (($#)); then
        mkdir -p "$d"
        cat >"$d/profile.conf" <<EOF
[Service]
ExecStart=
ExecStart=$* /usr/sbin/vigild \$VIGILD_OPTS
NotifyAccess=all
WatchdogSec=0
TimeoutStartSec=infinity
TimeoutStopSec=120
MemoryDenyWriteExecute=no
SystemCallFilter=
ProtectSystem=no
EOF
    fi
    systemctl daemon-reload
    systemctl start vigild.service || fail "vigild did not start under: $*"
}

vigild_pid() { systemctl show -p MainPID --value vigild.service; }

# ---- 1. callgrind -------------------------------------------------------------------------
# Each profile is one whole vigild life under callgrind: started with a configuration
# (`systemctl start` returns at READY=1, every tree up), left to settle, stopped (the
# workers stay; vigild's SIGTERM ends the profile). The cost of N workers is the
# difference from the life with no workers, so vigild's own start and stop cancel out.
# (vgdb/callgrind_control would dump phases of one life, but cannot reach a vigild blocked
# in epoll_wait here: the first try hung.)
cg_life() { # LABEL — vigild's life under callgrind with the configuration already written
    vigild_under valgrind --vgdb=no --tool=callgrind --callgrind-out-file="$OUT/cg.$1" --dump-instr=no
    sleep 10
    systemctl stop vigild.service
    [[ -s $OUT/cg.$1 ]] || fail "callgrind wrote no profile for $1"
    sed -n 's/^summary: //p' "$OUT/cg.$1" | head -n 1
}
if want callgrind; then
vigil_empty
note "callgrind: vigild with no workers"
printf 'tier: tier_2\ntrees: {}\n' | vigil_write_config
ir_empty=$(cg_life empty)
bench "profile_ir_empty $ir_empty"
note "callgrind: vigild starting $ORDERED ordered children"
clear_stamps
ordered_config "$ORDERED" | vigil_write_config
ir_ordered=$(cg_life ordered)
bench "profile_ir_ordered_$ORDERED $ir_ordered"
bench "profile_ir_per_ordered_child $(((ir_ordered - ir_empty) / ORDERED))"
vigild_under # as packaged: it adopts them; then they go
vigil_empty
note "callgrind: vigild starting $CG_INSTANCES instances"
clear_stamps
instances_config "$CG_INSTANCES" | vigil_write_config
ir_instances=$(cg_life instances)
bench "profile_ir_instances_$CG_INSTANCES $ir_instances"
bench "profile_ir_per_instance $(((ir_instances - ir_empty) / CG_INSTANCES))"
vigild_under
vigil_empty
for what in ordered instances; do
    echo "==== callgrind: vigild's life starting the $what configuration (inclusive, top) ===="
    callgrind_annotate --inclusive=yes --threshold=99 "$OUT/cg.$what" 2>/dev/null |
        sed -n '/file:function/,$p' | grep -v '^ *$' | head -n 60 || true
    echo "==== callgrind: the same, by function (exclusive, top) ===="
    callgrind_annotate --threshold=90 "$OUT/cg.$what" 2>/dev/null |
        sed -n '/file:function/,$p' | grep -v '^ *$' | head -n 40 || true
done
pass_step "callgrind profiles taken"
fi

events_seen() { # EVENT — how many EVENT entries vigild journaled for tree bench this boot
    journalctl -b -q -o cat VIGIL_EVENT="$1" VIGIL_TREE=bench | wc -l
}
wait_event() { # COUNT EVENT — until vigild journaled more than COUNT EVENT entries
    local deadline=$((SECONDS + 3600))
    until (($(events_seen "$2") > $1)); do
        ((SECONDS < deadline)) || fail "no new $2 event for tree bench"
        sleep 2
    done
}

# ---- 2. strace timeline of the ordered start ------------------------------------------
timeline() { # FILE LABEL — per child: reaction (JobRemoved in -> next call out), job
    python3 - "$1" "$2" <<'PY'
import re, statistics, sys
path, label = sys.argv[1], sys.argv[2]
calls, removed = {}, {}
unit_re = re.compile(r'(vigil-bench-[A-Za-z0-9_.@-]+?|bench-floor-[0-9]+)\.service')
nsys = 0
for line in open(path):
    m = re.match(r'(?:\d+\s+)?(\d+\.\d+)\s+(\w+)\(', line)
    if not m:
        continue
    nsys += 1
    t, call = float(m.group(1)), m.group(2)
    if call in ('sendmsg', 'writev', 'sendto', 'write') and 'StartTransientUnit' in line:
        u = unit_re.search(line)
        if u: calls.setdefault(u.group(1), t)
    elif call in ('recvmsg', 'read', 'recvfrom') and 'JobRemoved' in line:
        for u in unit_re.finditer(line):
            removed.setdefault(u.group(1), t)
order = sorted(calls, key=calls.get)
react, job = [], []
for a, b in zip(order, order[1:]):
    if a in removed:
        react.append((calls[b] - removed[a]) * 1e3)
for u in order:
    if u in removed:
        job.append((removed[u] - calls[u]) * 1e3)
if not react or not job:
    print(f"{label}: timeline not recognised ({len(calls)} calls, {len(removed)} JobRemoved)")
    sys.exit(0)
print(f"@@BENCH profile_{label}_reaction_ms_median {statistics.median(react):.2f}")
print(f"@@BENCH profile_{label}_job_ms_median {statistics.median(job):.2f}")
print(f"@@BENCH profile_{label}_syscalls_per_child {nsys / len(order):.1f}")
print(f"{label}: {len(order)} children; reaction (JobRemoved in -> next StartTransientUnit out) "
      f"median {statistics.median(react):.2f} ms, max {max(react):.2f}; "
      f"call to JobRemoved median {statistics.median(job):.2f} ms; {nsys / len(order):.1f} syscalls per child")
PY
}
# shellcheck disable=SC2054 # commas inside one argument
strace_opts=(-f -ttt -s 2048 -e trace=sendmsg,recvmsg,writev,sendto,recvfrom,read,write,openat,epoll_wait)
if want strace; then
# strace attaches to the running vigild (as its parent it would be the unit's main process
# and get vigild's signals).
note "strace: vigild starting $STRACED ordered children"
vigil_empty
clear_stamps
strace "${strace_opts[@]}" -o "$OUT/strace.vigild" -p "$(vigild_pid)" 2>/dev/null &
strace_pid=$!
sleep 3
c=$(events_seen supervisor-started)
ordered_config "$STRACED" | vigil_apply >/dev/null
wait_event "$c" supervisor-started
kill -INT "$strace_pid"
wait "$strace_pid" || true
vigilctl stop bench >/dev/null
wait_no_units 'vigil-bench*.service'
timeline "$OUT/strace.vigild" ordered_vigild
echo "vigild syscalls during the ordered start of $STRACED:"
sed -E -n 's/^[0-9]+ +[0-9.]+ +([a-z_0-9]+)\(.*/\1/p' "$OUT/strace.vigild" | sort | uniq -c | sort -rn
note "strace: the floor starting $STRACED units one after another"
clear_stamps
strace "${strace_opts[@]}" -o "$OUT/strace.floor" \
    "$TOOL" start-units bench-floor "$STRACED" 1 bench-floor.slice -- "$TOOL" stamp "$STAMPS" >/dev/null ||
    fail "the floor did not start"
systemctl stop bench-floor.slice
wait_no_units 'bench-floor-*.service'
timeline "$OUT/strace.floor" ordered_floor
pass_step "strace timelines taken"
fi

vigil_wait_running() { # N — until vigilctl reports N running workers
    local deadline=$((SECONDS + 3600))
    until (($(vigilctl status --json | python3 -c 'import json,sys; print(sum(1 for w in json.load(sys.stdin)["workers"] if w["state"] == "running"))') >= $1)); do
        ((SECONDS < deadline)) || fail "fewer than $1 workers running"
        sleep 2
    done
}

# ---- 3. memory ----------------------------------------------------------------------------
rollup() { # KEY — VmRSS and its anonymous / file-backed parts, kB
    local p
    p=$(vigild_pid)
    bench "profile_${1}_rss_kb $(awk '/^VmRSS:/ {print $2}' "/proc/$p/status")"
    bench "profile_${1}_anon_kb $(awk '/^Anonymous:/ {print $2}' "/proc/$p/smaps_rollup")"
    bench "profile_${1}_file_kb $(awk '/^Rss:/ {r=$2} /^Anonymous:/ {a=$2} END {print r - a}' "/proc/$p/smaps_rollup")"
    echo "resident kB by mapping ($1):"
    awk '/^[0-9a-f]+-[0-9a-f]+ / {f = NF >= 6 ? $6 : "[anon]"} /^Rss:/ {r[f] += $2} END {for (f in r) if (r[f] > 0) printf "%8d %s\n", r[f], f}' \
        "/proc/$p/smaps" | sort -rn | head -n 20
}
# cold_start_rollup KEY — INSTANCES started by a reload of the running vigild; the rollup
# BENCH_SETTLE after all of them run.
cold_start_rollup() {
    clear_stamps
    instances_config "$INSTANCES" | vigil_apply >/dev/null
    wait_stamps "$INSTANCES" 3600 >/dev/null
    vigil_wait_running "$INSTANCES"
    sleep "$BENCH_SETTLE"
    rollup "$1"
}
if want memory; then
note "memory: vigild with 0, then $INSTANCES workers"
vigil_empty
systemctl restart vigild.service
rollup mem_0
cold_start_rollup "mem_$INSTANCES"
# Cold start with the N instances running: what a restarted vigild holds after adopting them.
systemctl restart vigild.service
vigil_wait_running "$INSTANCES"
sleep "$BENCH_SETTLE"
rollup "mem_${INSTANCES}_adopted"
# massif: vigild started under it with the N instances running (it adopts them), left to
# settle, stopped (the workers stay); ms_print shows the heap over that life and the tree
# of allocation sites at its peak and at the end.
note "massif: vigild adopting $INSTANCES workers"
vigild_under valgrind --vgdb=no --tool=massif --massif-out-file="$OUT/massif.out" --max-snapshots=100 --detailed-freq=1 --threshold=0.2
sleep "$BENCH_SETTLE"
systemctl stop vigild.service
[[ -s $OUT/massif.out ]] || fail "massif wrote no profile"
echo "==== massif: vigild's heap adopting $INSTANCES workers ===="
ms_print "$OUT/massif.out" >"$OUT/massif.txt" || true
head -n 40 "$OUT/massif.txt"
# The last detailed snapshot (the settled heap), by allocation site: for each site, the
# first vigil function above the allocator (what holds the memory), summed.
python3 - "$OUT/massif.out" "$INSTANCES" <<'PY'
import collections, re, sys
snaps, cur = [], None
for line in open(sys.argv[1]):
    if line.startswith("snapshot="):
        cur = {"tree": []}
        snaps.append(cur)
    elif cur is not None and line.startswith("mem_heap_B="):
        cur["heap"] = int(line.split("=")[1])
    elif cur is not None and line.startswith("mem_heap_extra_B="):
        cur["extra"] = int(line.split("=")[1])
    elif cur is not None and re.match(r"\s*n\d+: ", line):
        depth = len(line) - len(line.lstrip(" "))
        m = re.match(r"\s*n(\d+): (\d+) (.*)", line)
        cur["tree"].append((depth, int(m.group(2)), m.group(3)))
detailed = [s for s in snaps if len(s["tree"]) > 1]
# The settled heap: the last detailed snapshot still near the peak (massif's final snapshot
# comes after vigild's teardown has freed most of it).
peak = max(s["heap"] for s in detailed)
last = [s for s in detailed if s["heap"] >= 0.7 * peak][-1]
n = int(sys.argv[2])
print(f"@@BENCH profile_heap_settled_bytes {last['heap']}")
print(f"@@BENCH profile_heap_extra_bytes {last['extra']}")
print(f"settled heap: {last['heap']} B useful + {last['extra']} B malloc overhead = "
      f"{(last['heap'] + last['extra']) / n:.0f} B per worker at {n}")
# The tree goes from the allocator (depth 0) out to main; each leaf's bytes are owed to the
# first vigil function on its path from the allocator (what asked for the memory).
by_owner = collections.Counter()
path = []
tree = last["tree"]
for i, (depth, size, desc) in enumerate(tree):
    path = path[:depth] + [desc]
    leaf = i + 1 == len(tree) or tree[i + 1][0] <= depth
    if not leaf or depth == 0:
        continue
    owner = next((re.sub(r"\(.*", "", d.split(": ", 1)[-1])[:110] for d in path[1:]
                  if "vigil::" in d), "(outside vigil: " + path[1][:90] + ")")
    by_owner[owner] += size
for owner, size in by_owner.most_common(25):
    print(f"{size:>10} B {size / n:>8.0f} B/worker  {owner}")
PY
vigild_under
# variant_rollup KEY ENVIRONMENT — the cold start of N again with vigild.service given
# Environment=ENVIRONMENT (a drop-in, removed after).
variant_rollup() {
    echo "memory variant $1: $2"
    vigil_empty
    mkdir -p /run/systemd/system/vigild.service.d
    printf '[Service]\nEnvironment=%s\n' "$2" >/run/systemd/system/vigild.service.d/variant.conf
    systemctl daemon-reload
    systemctl restart vigild.service
    cold_start_rollup "$1"
    rm -f /run/systemd/system/vigild.service.d/variant.conf
    systemctl daemon-reload
}
# PROFILE_MEMORY_TUNABLES: glibc malloc tunables to try (space-separated variants, each a
# GLIBC_TUNABLES value), keys _tunedK; PROFILE_MEMORY_PRELOAD: other allocators
# (space-separated library paths, each put in LD_PRELOAD, e.g.
# /usr/lib/x86_64-linux-gnu/libjemalloc.so.2), keys _preloadK.
k=0
for tunables in ${PROFILE_MEMORY_TUNABLES:-}; do
    k=$((k + 1))
    variant_rollup "mem_${INSTANCES}_tuned$k" "GLIBC_TUNABLES=$tunables"
done
p=0
for lib in ${PROFILE_MEMORY_PRELOAD:-}; do
    [[ -e $lib ]] || fail "PROFILE_MEMORY_PRELOAD: no $lib in the VM image"
    k=$((k + 1)) p=$((p + 1))
    variant_rollup "mem_${INSTANCES}_preload$p" "LD_PRELOAD=$lib"
done
# PROFILE_MEMORY_STEPS=S: the cold start of N again, reached in S reloads of N/S more
# instances each, every step waited for: at most N/S starts queued in vigild at once
# instead of N. Key _stepsS.
steps=${PROFILE_MEMORY_STEPS:-0}
if ((steps > 1)); then
    echo "memory: the cold start of $INSTANCES in $steps steps"
    vigil_empty
    systemctl restart vigild.service
    clear_stamps
    for ((i = 1; i <= steps; i++)); do
        n=$((INSTANCES * i / steps))
        instances_config "$n" | vigil_apply >/dev/null
        wait_stamps "$n" 3600 >/dev/null
    done
    vigil_wait_running "$INSTANCES"
    sleep "$BENCH_SETTLE"
    rollup "mem_${INSTANCES}_steps$steps"
    k=1
fi
((k == 0)) || systemctl restart vigild.service
vigil_empty
pass_step "memory profiled"
fi

# ---- 4. what vigild's notifications cost PID 1 ---------------------------------------------
# The ordered start of PROFILE_NOTIFY_ORDERED children (50), PROFILE_NOTIFY_ROUNDS (3) times
# each way, alternately: as packaged, and with PID 1 ignoring vigild's sd_notify messages (a
# drop-in: Type=exec, NotifyAccess=none, no watchdog: each STATUS= datagram is dropped after
# one log line instead of updating vigild.service and broadcasting its properties). Wall time
# to the last child's stamp and PID 1's CPU (init.scope) over it.
if want notify; then
    NN=${PROFILE_NOTIFY_ORDERED:-50}
    : >/tmp/notify.txt
    notify_round() { # LABEL [quiet]
        local d=/run/systemd/system/vigild.service.d t0 last cpu0 cpu1
        systemctl stop vigild.service
        rm -rf "$d"
        if [[ ${2:-} == quiet ]]; then
            mkdir -p "$d"
            printf '[Service]\nType=exec\nNotifyAccess=none\nWatchdogSec=0\n' >"$d/quiet.conf"
        fi
        systemctl daemon-reload
        ordered_config "$NN" | vigil_write_config
        clear_stamps
        cpu0=$(systemctl show -p CPUUsageNSec --value init.scope)
        t0=$(now_ns)
        systemctl start vigild.service
        last=$(wait_stamps "$NN")
        cpu1=$(systemctl show -p CPUUsageNSec --value init.scope)
        echo "$1 $(ms_between "$t0" "$last") $(((cpu1 - cpu0) / 1000000))" >>/tmp/notify.txt
        vigilctl stop bench >/dev/null
        wait_no_units 'vigil-bench*.service'
        vigil_empty
    }
    note "notify: $NN ordered children, with and without PID 1 reading vigild's notifications"
    for ((round = 0; round < ${PROFILE_NOTIFY_ROUNDS:-3}; round++)); do
        if ((round % 2 == 0)); then
            notify_round packaged
            notify_round quiet quiet
        else
            notify_round quiet quiet
            notify_round packaged
        fi
    done
    rm -rf /run/systemd/system/vigild.service.d
    systemctl daemon-reload
    systemctl restart vigild.service
    python3 - /tmp/notify.txt <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    label, wall, cpu = line.split()
    runs[label].append((float(wall), float(cpu)))
for label, xs in sorted(runs.items()):
    walls, cpus = [w for w, _ in xs], [c for _, c in xs]
    print(f"@@BENCH profile_notify_{label}_ms_median {statistics.median(walls):.1f}")
    print(f"@@BENCH profile_notify_{label}_pid1_cpu_ms_median {statistics.median(cpus):.1f}")
    print(f"notify {label}: wall {walls}, PID 1 CPU ms {cpus}")
PY
    pass_step "notification cost measured"
fi

# ---- 5. vigild's own start ------------------------------------------------------------------
# The cold start of PROFILE_STARTUP_INSTANCES (50) instances with vigild.service started
# under strace: a timeline from its execve to its last worker's StartTransientUnit, with the
# D-Bus calls it sends, the files it opens, and every gap of 5 ms or more between two of its
# syscalls (what it waited for), to tell where the time before the first worker goes.
if want startup; then
    SN=${PROFILE_STARTUP_INSTANCES:-50}
    note "startup: vigild under strace starting $SN instances"
    vigil_empty
    systemctl stop vigild.service
    instances_config "$SN" | vigil_write_config
    clear_stamps
    vigild_under strace -f -ttt -s 512 -o "$OUT/strace.startup" \
        -e trace=execve,openat,connect,sendmsg,recvmsg,epoll_wait,ppoll,read,write,writev
    wait_stamps "$SN" >/dev/null
    systemctl stop vigild.service
    python3 - "$OUT/strace.startup" <<'PY'
import re, sys
members = ("Hello", "AddMatch", "Subscribe", "RequestName", "ListUnitsByPatterns",
           "StartTransientUnit", "GetAll", "GetUnit", "SetUnitProperties", "ResetFailedUnit")
t0 = prev = None
first_start = None
starts = 0
for line in open(sys.argv[1]):
    m = re.match(r'(\d+)\s+(\d+\.\d+)\s+(\w+)\((.*)', line)
    if not m:
        continue
    t, call, rest = float(m.group(2)), m.group(3), m.group(4)
    if t0 is None:
        if call != "execve" or "vigild" not in rest:
            continue
        t0 = prev = t
    rel = (t - t0) * 1e3
    what = ""
    if call == "openat":
        f = re.search(r'"([^"]+)"', rest)
        what = f"open {f.group(1) if f else '?'}"
    elif call in ("sendmsg", "writev", "write"):
        mem = next((x for x in members if x in rest), None)
        if mem == "StartTransientUnit":
            starts += 1
            if first_start is None:
                first_start = rel
            if starts > 1:
                mem = None
        if mem:
            what = f"send {mem}"
        elif "READY=1" in rest:
            what = "READY=1"
        elif "config-applied" in rest:
            what = "journal: config-applied"
    gap = (t - prev) * 1e3
    if gap >= 5:
        print(f"{rel:9.1f} ms  (+{gap:6.1f} ms waiting before {call})")
    if what:
        print(f"{rel:9.1f} ms  {what}")
    prev = t
if t0 is None:
    print("startup: no execve of vigild in the trace")
elif first_start is not None:
    print(f"@@BENCH profile_startup_first_start_ms {first_start:.1f}")
    print(f"startup: first StartTransientUnit {first_start:.1f} ms after execve; {starts} in all")
PY
    vigild_under
    vigil_empty
    pass_step "vigild's start traced"
fi
