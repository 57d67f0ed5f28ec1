#!/bin/bash
# Fault 4 (docs/RELIABILITY.md): containment by the kernel through systemd's properties.
# A fork bomb is held at tasks_max (pids.max; pids.events max grows); a memory hog is
# OOM-killed and restarted with reason oom-kill while its siblings keep their MainPIDs; a
# CPU hog is throttled (cpu.stat nr_throttled grows) while a sibling still answers.
# vm-timeout: 300
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

assert_eq config-applied "$(vigil_apply <<YAML
tier: tier_2
trees:
  k:
    strategy: one_for_one
    intensity: {max_restarts: 20, period: 5min}
    children:
      - name: bomb
        # Forks without end; the main process survives the refusals (EAGAIN).
        command:
          - /usr/bin/python3
          - -c
          - |
            import os, time
            time.sleep(1)
            while True:
                try:
                    pid = os.fork()
                except OSError:
                    time.sleep(0.05)
                    continue
                if pid == 0:
                    time.sleep(1000)
                    os._exit(0)
        limits: {tasks_max: 16}
      - name: hog
        command: [/usr/bin/python3, -c, 'import time; time.sleep(2); b = [b"x" * (1 << 20) for _ in range(4096)]; time.sleep(100)']
        limits: {memory_max: 32M}
        backoff: {initial: 30s, jitter: 0}
      - name: spin
        command: [/bin/sh, -c, 'while :; do :; done']
        limits: {cpu_quota: 10%}
      - name: calm
        command: [$VIGIL_WORKER_BIN]
YAML
)" "reload result"
for u in bomb hog spin calm; do wait_unit_active "vigil-k-$u.service" 60; done
calm=$(main_pid vigil-k-calm.service)
spin=$(main_pid vigil-k-spin.service)
bomb=$(main_pid vigil-k-bomb.service)

_bomb_held() { (($(cgroup_file vigil-k-bomb.service pids.current) >= 16)) && grep -q '^max [1-9]' <(cgroup_file vigil-k-bomb.service pids.events); }
wait_for 60 _bomb_held
assert_eq 16 "$(cgroup_file vigil-k-bomb.service pids.max)" "pids.max of the fork bomb"
pass_step "fork bomb held at tasks_max 16 (pids.events: $(cgroup_file vigil-k-bomb.service pids.events | tr '\n' ' '))"

_oom() { journal_since_test _SYSTEMD_UNIT=vigild.service VIGIL_EVENT=worker-exited VIGIL_UNIT=vigil-k-hog.service VIGIL_REASON=oom-kill -o cat | grep -q .; }
wait_for 90 _oom
journal_since_test _SYSTEMD_UNIT=vigild.service VIGIL_EVENT=restart-scheduled VIGIL_UNIT=vigil-k-hog.service VIGIL_REASON=oom-kill -o cat | grep -q . ||
    fail "no restart scheduled with reason oom-kill"
assert_eq "$calm" "$(main_pid vigil-k-calm.service)" "calm's MainPID after the OOM kill"
assert_eq "$spin" "$(main_pid vigil-k-spin.service)" "spin's MainPID after the OOM kill"
pass_step "memory hog OOM-killed, restart scheduled with reason oom-kill, siblings untouched"

t1=$(cgroup_file vigil-k-spin.service cpu.stat | awk '$1 == "nr_throttled" {print $2}')
since=$(date +%s.%N)
sleep 3
t2=$(cgroup_file vigil-k-spin.service cpu.stat | awk '$1 == "nr_throttled" {print $2}')
# The sibling makes progress: vigil-example-worker logs a tick every second.
ticks=$(journalctl -q --since="@$since" -u vigil-k-calm.service -o cat | grep -c '^tick' || true)
((ticks >= 2)) || fail "calm logged $ticks ticks in 3 s next to the CPU hog"
((t2 > t1)) || fail "the CPU hog is not throttled (nr_throttled $t1 -> $t2)"
assert_eq "10000 100000" "$(cgroup_file vigil-k-spin.service cpu.max)" "cpu.max of the CPU hog"
assert_eq "$calm" "$(main_pid vigil-k-calm.service)" "calm still runs"
assert_eq "$bomb" "$(main_pid vigil-k-bomb.service)" "the fork bomb's main process, held, not restarted"
pass_step "CPU hog throttled (nr_throttled $t1 -> $t2), calm ticked $ticks times meanwhile"
assert_eq config-applied "$(printf 'tier: tier_2\ntrees: {}\n' | vigil_apply)" "clean up"
