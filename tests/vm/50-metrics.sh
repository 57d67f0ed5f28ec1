#!/bin/bash
# Metrics on real cgroups (issue 9): a worker holding 100 MB shows vigil_worker_memory_bytes
# within 10 % of its cgroup's memory.current; a CPU-bound worker with cpu_quota 20 % shows
# about 0.2 CPU-seconds per second and a growing throttled counter; /metrics lists every
# worker and passes `promtool check metrics`; a stalled client does not hold up a scrape;
# a real Prometheus server scrapes vigild and answers a PromQL query; the textfile is
# replaced atomically (every read is whole, each sweep a new inode).
# vm-timeout: 600
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

# The directory Debian's prometheus-node-exporter reads; vigild.service may write there
# (ReadWritePaths=-, so it must exist when vigild starts: restart it, workers stay).
textdir=/var/lib/prometheus/node-exporter
mkdir -p "$textdir"
systemctl restart vigild.service
result=$(vigil_apply <<YAML
tier: tier_2
metrics: {interval: 1s, history: 5min, listen: 127.0.0.1:9753, textfile: $textdir}
trees:
  m:
    children:
      - name: mem
        command: [/usr/bin/python3, -c, "import time; b = b'x' * (100 << 20); time.sleep(1e6)"]
      - name: spin
        command: [/bin/sh, -c, "while :; do :; done"]
        limits: {cpu_quota: 20%}
YAML
)
assert_eq config-applied "$result" "reload result"
wait_unit_active vigil-m-mem.service 90
wait_unit_active vigil-m-spin.service 90

# metric NAME WORKER [FILE] — the value of NAME for worker m/WORKER in a scrape (or FILE).
scrape() { curl -fsS --max-time 10 http://127.0.0.1:9753/metrics; }
metric() {
    local text
    if [[ -n ${3:-} ]]; then text=$(cat "$3"); else text=$(scrape); fi
    awk -v n="$1" -v w="worker=\"m/$2\"" '$1 ~ "^"n"\\{" && index($1, w) { print $2; exit }' <<<"$text"
}
mem_at_least_100m() {
    local v
    v=$(metric vigil_worker_memory_bytes mem)
    [[ -n $v ]] && ((v >= 100 * 1024 * 1024))
}
wait_for 120 mem_at_least_100m
reported=$(metric vigil_worker_memory_bytes mem)
actual=$(cgroup_file vigil-m-mem.service memory.current)
echo "vigil_worker_memory_bytes $reported, memory.current $actual"
python3 -c "import sys; r, a = $reported, $actual; sys.exit(0 if abs(r - a) <= a * 0.10 else 1)" ||
    fail "reported memory $reported is not within 10% of memory.current $actual"
pass_step "the 100 MB worker: vigil_worker_memory_bytes $reported within 10% of memory.current $actual"

# CPU: the quota caps the spinning worker at 0.2 CPU-seconds per second.
c0=$(metric vigil_worker_cpu_seconds_total spin)
t0=$(metric vigil_worker_cpu_throttled_seconds_total spin)
w0=$(date +%s.%N)
sleep 20
c1=$(metric vigil_worker_cpu_seconds_total spin)
t1=$(metric vigil_worker_cpu_throttled_seconds_total spin)
w1=$(date +%s.%N)
rate=$(python3 -c "print(round(($c1 - $c0) / ($w1 - $w0), 3))")
echo "spin: cpu $c0 -> $c1 s, throttled $t0 -> $t1 s over $(python3 -c "print(round($w1 - $w0, 1))") s: $rate CPU-s/s"
python3 -c "import sys; sys.exit(0 if 0.15 <= $rate <= 0.25 else 1)" ||
    fail "cpu_quota 20%: expected about 0.2 CPU-seconds per second, got $rate"
python3 -c "import sys; sys.exit(0 if $t1 > $t0 else 1)" || fail "the throttled counter did not grow ($t0 -> $t1)"
pass_step "cpu_quota 20%: $rate CPU-seconds per second, throttled seconds $t0 -> $t1"

# vigilctl status shows the sampler's CPU rate and the throttling.
detail=$(vigilctl status m/spin)
echo "$detail" | grep -E '^ +(CPU|Throttled|Memory):'
pct=$(sed -nE 's/^ +CPU: ([0-9.]+)% now.*/\1/p' <<<"$detail")
[[ -n $pct ]] || fail "vigilctl status m/spin shows no CPU rate"
python3 -c "import sys; sys.exit(0 if 12 <= $pct <= 28 else 1)" || fail "vigilctl status: CPU $pct%, expected about 20%"
grep -qE '^ +Throttled: .* in [0-9]+ period' <<<"$detail" || fail "vigilctl status m/spin shows no throttling"
tree=$(vigilctl status m)
grep -qE '^ *(├─|\|-|└─|`-) spin +running .* [0-9.]+%' <<<"$tree" || fail "the tree view has no CPU% for spin: $tree"
pass_step "vigilctl status: CPU $pct% now, throttling shown; the tree shows CPU%"

# The whole exposition: every worker and the tree's slice, and Prometheus' linter is happy.
text=$(scrape)
for w in mem spin; do
    grep -q "^vigil_worker_up{tree=\"m\",supervisor=\"m\",worker=\"m/$w\",worker_instance=\"\",unit=\"vigil-m-$w.service\"} 1$" <<<"$text" ||
        fail "/metrics has no vigil_worker_up 1 for m/$w"
done
grep -q '^vigil_supervisor_memory_bytes{tree="m",supervisor="m",unit="vigil-m.slice"} ' <<<"$text" ||
    fail "/metrics has no memory figure for the tree's slice"
host_total=$(awk '/^vigil_host_memory_total_bytes / {print $2}' <<<"$text")
assert_eq "$(($(awk '/^MemTotal:/ {print $2}' /proc/meminfo) * 1024))" "$host_total" "vigil_host_memory_total_bytes against /proc/meminfo"
grep -qE '^vigil_host_cpu_seconds_total\{mode="idle"\} [0-9.]+$' <<<"$text" || fail "no host CPU figures"
lint=$(promtool check metrics <<<"$text" 2>&1) || fail "promtool check metrics: $lint"
[[ -z $lint ]] || fail "promtool check metrics found problems: $lint"
echo "$(grep -c '^vigil_' <<<"$text") samples; $(grep -E '^vigil_sampler_(longest_batch|last_sweep)' <<<"$text" | tr '\n' ' ')"
pass_step "curl /metrics lists both workers, the slice and the host totals; promtool check metrics passes"

# A client that connects and sends nothing costs a connection slot, not the loop.
exec 7<>/dev/tcp/127.0.0.1/9753
start=$(date +%s%N)
scrape >/dev/null || fail "a scrape failed while another client stalled"
ms=$((($(date +%s%N) - start) / 1000000))
exec 7>&-
pass_step "a scrape took ${ms} ms while another client held a connection without a request"

# A real Prometheus server scrapes vigild every second and answers PromQL.
promdir=/run/vigil-test-prometheus
rm -rf "$promdir" && mkdir -p "$promdir/data"
cat >"$promdir/prometheus.yml" <<'PROM'
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: vigil
    static_configs: [{targets: ['127.0.0.1:9753']}]
PROM
chown -R prometheus: "$promdir"
systemd-run --unit=vigil-test-prometheus --uid=prometheus --property=MemoryMax=400M \
    /usr/bin/prometheus --config.file="$promdir/prometheus.yml" --storage.tsdb.path="$promdir/data" \
    --web.listen-address=127.0.0.1:9090 >/dev/null
trap 'systemctl stop vigil-test-prometheus.service 2>/dev/null || true' EXIT
promql() { curl -fsS --max-time 10 --get --data-urlencode "query=$1" http://127.0.0.1:9090/api/v1/query; }
queried_up() {
    local answer
    answer=$(promql 'vigil_worker_up{worker="m/mem"}' 2>/dev/null) || return 1
    python3 -c '
import json, sys
d = json.loads(sys.argv[1])
r = d["data"]["result"]
sys.exit(0 if d["status"] == "success" and r and r[0]["value"][1] == "1" else 1)' "$answer"
}
wait_for 240 queried_up
echo "PromQL vigil_worker_up{worker=\"m/mem\"}: $(promql 'vigil_worker_up{worker="m/mem"}')"
target=$(curl -fsS http://127.0.0.1:9090/api/v1/targets | python3 -c '
import json, sys
t = json.load(sys.stdin)["data"]["activeTargets"][0]
print(t["health"], t.get("lastError", ""))')
assert_eq "up " "$target" "Prometheus' view of the vigil target"
pass_step "Prometheus scraped vigild: vigil_worker_up{worker=\"m/mem\"} is 1, the target is up"

# The fleet alert rules (deploy/prometheus/vigil.rules.yml, issue 11) load into a real
# Prometheus scraping a real vigild: every group from the file is there, and every rule has
# been evaluated against vigild's series with health "ok" and no lastError.
rules_src=/opt/vigil-test/deploy/prometheus/vigil.rules.yml
[[ -r $rules_src ]] || fail "no $rules_src in the VM"
out=$(promtool check rules "$rules_src" 2>&1) || fail "promtool check rules $rules_src: $out"
# A copy Prometheus (user prometheus) can read whatever the mode of /opt/vigil-test; a
# relative rule_files path is relative to the configuration file.
install -o prometheus -g prometheus -m 0644 "$rules_src" "$promdir/vigil.rules.yml"
echo 'rule_files: [vigil.rules.yml]' >>"$promdir/prometheus.yml"
# SIGHUP reloads the configuration (no --web.enable-lifecycle for POST /-/reload).
systemctl kill --kill-who=main -s HUP vigil-test-prometheus.service
# rules_loaded — 0 once /api/v1/rules has every group of the file and every rule of them
# has been evaluated (health "ok", no lastError); prints the problems otherwise. A rule
# not yet evaluated has health "unknown": wait for that, fail on "err" at the end.
rules_loaded() {
    local answer
    answer=$(curl -fsS --max-time 10 http://127.0.0.1:9090/api/v1/rules) || return 1
    python3 - "$promdir/vigil.rules.yml" "$answer" <<'PY'
import json, re, sys
text = open(sys.argv[1]).read()
want_groups = set(re.findall(r"^\s*-\s+name:\s*(\S+)", text, re.M))
want_rules = len(re.findall(r"^\s*-\s+(?:alert|record):", text, re.M))
d = json.loads(sys.argv[2])
groups = d["data"]["groups"] if d.get("status") == "success" else []
problems = []
got = {g["name"] for g in groups}
if got != want_groups:
    problems.append(f"groups {sorted(got)}, expected {sorted(want_groups)}")
rules = [(g["name"], r) for g in groups for r in g["rules"]]
if len(rules) != want_rules:
    problems.append(f"{len(rules)} rules loaded, the file has {want_rules}")
for group, r in rules:
    if r.get("health") != "ok" or r.get("lastError"):
        problems.append(f"{group}/{r['name']}: health {r.get('health')!r}, "
                        f"lastError {r.get('lastError', '')!r}")
if problems:
    print("; ".join(problems))
    sys.exit(1)
firing = [f"{r['name']}({len(r.get('alerts', []))} {r.get('state')})" for _, r in rules
          if r.get("type") == "alerting" and r.get("state") != "inactive"]
print(f"{len(groups)} groups, {len(rules)} rules loaded and evaluated, health ok; "
      f"active alerts: {', '.join(firing) or 'none'}")
PY
}
deadline=$((SECONDS + 60))
until rules_msg=$(rules_loaded); do
    ((SECONDS < deadline)) || fail "Prometheus did not load $rules_src cleanly in 60s: $rules_msg"
    sleep 1
done
reload_ok=$(curl -fsS --max-time 10 http://127.0.0.1:9090/metrics |
    awk '$1 == "prometheus_config_last_reload_successful" {print $2}')
assert_eq 1 "$reload_ok" "prometheus_config_last_reload_successful after adding rule_files"
pass_step "Prometheus loaded deploy/prometheus/vigil.rules.yml: $rules_msg"

systemctl stop vigil-test-prometheus.service

# The textfile: node_exporter's collector must never see half a file. Every read is whole
# (it ends with the last family), and each sweep renames a new file over the old one: a
# descriptor opened on the file keeps the old, complete one, now unlinked (an in-place
# rewrite would leave it linked and change it under the reader).
prom="$textdir/vigil.prom"
[[ -f $prom ]] || fail "no textfile $prom"
for i in $(seq 1 60); do
    tail -n 1 "$prom" | grep -q '^vigil_exporter_scrape_duration_seconds ' ||
        fail "read $i of $prom is not whole: $(tail -c 200 "$prom")"
    sleep 0.1
done
exec 8<"$prom"
held=$(stat -L -c %h "/proc/$$/fd/8")
sleep 3
links=$(stat -L -c %h "/proc/$$/fd/8")
tail -n 1 "/proc/$$/fd/8" | grep -q '^vigil_exporter_scrape_duration_seconds ' || fail "the old textfile is not whole"
exec 8<&-
assert_eq "1 0" "$held $links" "links of the textfile held open, before and after 3 sweeps"
fm=$(metric vigil_worker_memory_bytes mem "$prom")
[[ -n $fm ]] || fail "the textfile has no memory figure for m/mem"
pass_step "textfile: 60 reads all whole; the file held open was replaced by rename (links 1 -> 0); memory figure $fm"

# The history of the sweeps: vigilctl status --history shows the 100 MB worker's memory.
hist=$(vigilctl status m/mem --history 1m)
echo "$hist"
grep -qE '^  memory +[0-9.]+M +[0-9.]+M +[0-9.]+M' <<<"$hist" || fail "no memory line in the history"
python3 - "$hist" <<'PY' || fail "the history's memory is not about 100 MB"
import re, sys
m = re.search(r"^  memory +([0-9.]+)M +([0-9.]+)M +([0-9.]+)M", sys.argv[1], re.M)
sys.exit(0 if 95 <= float(m.group(2)) <= 130 else 1)
PY
samples=$(sed -nE 's/.*, ([0-9]+) of ([0-9]+) present$/\1/p' <<<"$hist" | head -1)
((samples >= 30)) || fail "fewer than 30 samples in the last minute at 1 s: $samples"
vigilctl status m --history 30s --json | python3 -c '
import json, sys
h = json.load(sys.stdin)
kinds = sorted({v["kind"] for v in h})
assert kinds == ["supervisor", "worker"], kinds
spin = [v for v in h if v["path"] == "m/spin"][0]
cpu = [m for m in spin["metrics"] if m["name"] == "cpu"][0]
assert 1200 <= cpu["avg"] <= 2800, cpu  # 20 % of a core = 2000 ten-thousandths
assert 20 <= len(cpu["series"]) <= 40, cpu  # at most one point per sample
' || fail "vigilctl status m --history 30s --json: unexpected content"
pass_step "vigilctl status --history: memory about 100M over $samples samples; JSON has the slice and the workers, spin's CPU about 20%"
