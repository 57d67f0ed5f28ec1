#!/bin/bash
# Health checks against real processes and real systemd (issue 9): an HTTP endpoint that
# starts answering 503 gets its worker restarted through its supervisor after `failures`
# probes, with "health: http: http 503" in the events, the exit history and the intensity
# window; a TCP check on a closed port marks the worker unhealthy (report only: no
# restart) and it recovers when the port opens; an exec check that hangs times out and its
# process is killed; a rolling restart waits for each instance to be healthy before it
# stops the next; /metrics exports vigil_worker_healthy.
# vm-timeout: 600
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

# A health endpoint: /healthz answers 200 "ok", or 503 while /run/vigil-healthz-fail
# exists, or 503 during the first WARMUP seconds; every answer is appended to
# /run/vigil-healthz-PORT.log.
cat >/usr/local/bin/vigil-test-healthz <<'PY'
import http.server, os, sys, time
port, warmup = int(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
start = time.monotonic()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        fail = os.path.exists("/run/vigil-healthz-fail") or time.monotonic() - start < warmup
        code, body = (503, b"failing\n") if fail else (200, b"ok\n")
        with open("/run/vigil-healthz-%d.log" % port, "a") as f:
            f.write("%d\n" % code)
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
PY
rm -f /run/vigil-healthz-* /run/vigil-port-open /run/vigil/hang.pids

result=$(vigil_apply <<'YAML'
tier: tier_2
trees:
  h:
    strategy: one_for_one
    intensity: {max_restarts: 20, period: 10min}
    children:
      - name: web
        command: [/usr/bin/python3, /usr/local/bin/vigil-test-healthz, "8181"]
        backoff: {initial: 500ms, max: 2s, jitter: 0}
        health:
          http: {url: "http://127.0.0.1:8181/healthz", body: ok}
          interval: 2s
          timeout: 2s
          failures: 3
      - name: port
        command: [/bin/sh, -c, 'while [ ! -e /run/vigil-port-open ]; do sleep 0.2; done; exec python3 -m http.server --bind 127.0.0.1 8282']
        health: {tcp: "127.0.0.1:8282", interval: 1s, timeout: 1s, failures: 2, restart: false}
      - name: hang
        command: [/bin/sleep, infinity]
        health:
          exec: [/bin/sh, -c, 'echo $$ >> /run/vigil/hang.pids; exec sleep 600']
          interval: 2s
          timeout: 1s
          failures: 2
          restart: false
      - name: r
        instances: 2
        command: [/bin/sh, -c, 'exec python3 /usr/local/bin/vigil-test-healthz 830$VIGIL_INSTANCE 4']
        health:
          http: "http://127.0.0.1:830%i/healthz"
          interval: 1s
          timeout: 1s
          failures: 30
          start_period: 1min
YAML
)
assert_eq config-applied "$result" "reload result"
for u in vigil-h-web vigil-h-port vigil-h-hang vigil-h-r@1 vigil-h-r@2; do wait_unit_active $u.service 90; done

health_of() { vigil_field workers "$1" health; }
is_health() { [[ $(health_of "$1") == "$2" ]]; }

# --- http: healthy, then 503 -> restarted after 3 failures ----------------------------
wait_for 60 is_health h/web healthy
assert_eq "http GET http://127.0.0.1:8181/healthz every 2s" "$(vigil_field workers h/web health_check)" "health_check"
pid0=$(main_pid vigil-h-web.service)
: >/run/vigil-healthz-8181.log
touch /run/vigil-healthz-fail
wait_pid_changes vigil-h-web.service "$pid0" 90
rm -f /run/vigil-healthz-fail
failed=$(grep -c '^503$' /run/vigil-healthz-8181.log || true)
echo "503 answers before the restart: $failed"
((failed >= 3)) || fail "restarted after $failed failed probes, expected at least 3 (failures: 3)"
unhealthy=$(vigil_events VIGIL_EVENT=worker-health VIGIL_UNIT=vigil-h-web.service | grep '^worker-health unhealthy' || true)
echo "$unhealthy"
grep -q 'unhealthy: http: http 503; restarting it through its supervisor' <<<"$unhealthy" ||
    fail "no worker-health event with the reason (above)"
vigil_events VIGIL_EVENT=restart-scheduled VIGIL_UNIT=vigil-h-web.service | grep -q '^restart-scheduled unhealthy ' ||
    fail "the restart was not scheduled with reason unhealthy"
vigilctl events h/web >/tmp/events.txt
grep -q 'health: http: http 503' /tmp/events.txt || grep -q 'http: http 503' /tmp/events.txt ||
    { cat /tmp/events.txt; fail "vigilctl events does not show the health reason"; }
wait_for 60 is_health h/web healthy
assert_eq 1 "$(vigil_field workers h/web restarts)" "restarts of h/web"
last=$(vigil_json | python3 -c 'import json,sys; print([w for w in json.load(sys.stdin)["workers"] if w["path"] == "h/web"][0]["last_exit"]["description"])')
assert_eq "health: http: http 503" "$last" "last exit of h/web"
window=$(vigil_field supervisors h restarts_in_window)
((window >= 1)) || fail "the health restart was not counted in the intensity window ($window)"
ctl_expect 0 status h/web
grep -q 'Health: healthy' <<<"$ctl_out" || fail "vigilctl status h/web shows no health: $ctl_out"
pass_step "http 503: restarted after $failed failed probes through the supervisor, reason in the events, healthy again"

# --- tcp: closed port -> unhealthy (report only), port opens -> healthy ----------------
wait_for 60 is_health h/port unhealthy
assert_eq "tcp: connect refused" "$(vigil_field workers h/port health_detail)" "tcp detail"
port_pid=$(main_pid vigil-h-port.service)
touch /run/vigil-port-open
wait_for 60 is_health h/port healthy
assert_eq "$port_pid" "$(main_pid vigil-h-port.service)" "h/port kept its process (restart: false)"
assert_eq 0 "$(vigil_field workers h/port restarts)" "restarts of h/port"
pass_step "tcp: unhealthy on a closed port (connect refused), healthy once it opens, never restarted"

# --- exec: a hanging check times out and is killed ---------------------------------------
wait_for 60 is_health h/hang unhealthy
assert_eq "exec: timeout after 1s" "$(vigil_field workers h/hang health_detail)" "exec detail"
mapfile -t pids </run/vigil/hang.pids
((${#pids[@]} >= 2)) || fail "expected at least 2 probes, found ${#pids[@]}"
_all_gone() {
    local p
    for p in "${pids[@]}"; do [[ ! -e /proc/$p ]] || return 1; done
}
wait_for 10 _all_gone
pass_step "exec: a hanging check is a timeout after 1s and each of its ${#pids[@]} processes is gone"

# --- metrics ------------------------------------------------------------------------------
metrics=$(curl -fsS --max-time 10 http://127.0.0.1:9753/metrics)
grep -q '^vigil_worker_healthy{tree="h",supervisor="h",worker="h/web",.*} 1$' <<<"$metrics" ||
    fail "vigil_worker_healthy of h/web is not 1"
grep -q '^vigil_worker_healthy{tree="h",supervisor="h",worker="h/hang",.*} 0$' <<<"$metrics" ||
    fail "vigil_worker_healthy of h/hang is not 0"
grep -q '^vigil_worker_health_state{.*worker="h/hang",.*state="unhealthy"} 1$' <<<"$metrics" ||
    fail "vigil_worker_health_state of h/hang is not unhealthy"
pass_step "/metrics: vigil_worker_healthy and vigil_worker_health_state"

# --- rolling restart waits for healthy ----------------------------------------------------
# Each instance answers 503 for its first 4 s: the roll must not stop r@2 before r@1 is
# healthy again.
wait_for 60 is_health h/r@1 healthy
wait_for 60 is_health h/r@2 healthy
t0=$(python3 -c 'import time; print(int(time.clock_gettime(time.CLOCK_MONOTONIC) * 1e6))')
ctl_expect 0 restart --rolling h/r
rolled() {
    journal_since_test -o json | T0=$t0 python3 -c '
import json, os, sys
t0 = int(os.environ["T0"])
healthy1 = stop2 = None
for line in sys.stdin:
    e = json.loads(line)
    t = int(e["__MONOTONIC_TIMESTAMP"])
    if t < t0:
        continue
    if e.get("VIGIL_EVENT") == "worker-health" and e.get("VIGIL_UNIT") == "vigil-h-r@1.service" \
            and e.get("VIGIL_REASON") == "healthy" and healthy1 is None:
        healthy1 = t
    if e.get("_PID") == "1" and e.get("UNIT") == "vigil-h-r@2.service" \
            and e.get("MESSAGE_ID") == "de5b426a63be47a7b6ac3eaac82e2f6f" and stop2 is None:
        stop2 = t
if healthy1 is None or stop2 is None:
    sys.exit(3)
print("r@1 healthy at +%.2fs, r@2 stopping at +%.2fs" % ((healthy1 - t0) / 1e6, (stop2 - t0) / 1e6))
sys.exit(0 if healthy1 < stop2 else 1)
'
}
deadline=$((SECONDS + 20))
while :; do
    rc=0
    rolled || rc=$?
    ((rc == 3 && SECONDS < deadline)) || break
    sleep 0.5
done
((rc != 3)) || fail "no worker-health healthy event for r@1 or no stop of r@2 in the journal"
((rc == 0)) || fail "r@2 was stopped before r@1 was healthy"
grep -q "all 2 restarted, one at a time" <<<"$ctl_out" || fail "rolling restart answer: $ctl_out"
pass_step "restart --rolling waits for each instance's health check"

# Leave nothing running for the next test.
assert_eq config-applied "$(printf 'tier: tier_2\ntrees: {}\n' | vigil_apply)" "reload to an empty tree"
rm -f /run/vigil-healthz-* /run/vigil-port-open /run/vigil/hang.pids
