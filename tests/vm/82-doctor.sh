#!/bin/bash
# `vigild --doctor` and `vigilctl doctor` on real systemd 252: on a healthy host every check
# agrees with what the host says by other means (systemctl, stat, /proc, the cgroup files)
# and the exit status is 0; then each kind of trouble fails its check by name, with a fix,
# and exit 1: a tree failed, an invalid file on disk, vigild stopped. vigilctl doctor gives
# the same verdicts to an unprivileged user.
# vm-timeout: 600
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

# verdict JSON NAME — the verdict of check NAME in a doctor JSON document.
verdict() { jq -r --arg n "$2" '.checks[] | select(.name == $n) | .verdict' <<<"$1"; }
detail() { jq -r --arg n "$2" '.checks[] | select(.name == $n) | .detail' <<<"$1"; }
fixof() { jq -r --arg n "$2" '.checks[] | select(.name == $n) | .fix' <<<"$1"; }

# A manual restart zeroes NRestarts (earlier fault tests made systemd restart vigild).
vigil_restart_ready
assert_eq config-applied "$(vigil_apply <<YAML
tier: tier_2
trees:
  calm:
    children:
      - {name: a, command: [$VIGIL_WORKER_BIN], limits: {memory_max: 64M}}
      - {name: b, command: [$VIGIL_WORKER_BIN]}
YAML
)" "reload result"
wait_unit_active vigil-calm-a.service 90
wait_unit_active vigil-calm-b.service 90
wait_for 60 vigil_is_ready

vigild --doctor | tee /dev/stderr >/tmp/doctor.txt || fail "vigild --doctor failed on a healthy host"
assert_eq 10 "$(grep -c "^[a-z]" /tmp/doctor.txt)" "one line per check"
out=$(vigild --doctor --json) || fail "vigild --doctor --json exit $?"
assert_eq true "$(jq -r .ok <<<"$out")" "ok"
assert_eq "systemd cgroup2 controllers psi dbus clock vigild config trees watchdog" \
    "$(jq -r '[.checks[].name] | join(" ")' <<<"$out")" "checks in order"

# Each verdict against the host's own account.
assert_eq ok "$(verdict "$out" systemd)" "systemd"
assert_eq "systemd $(systemctl show -p Version --value) (>= 252)" "$(detail "$out" systemd)" "systemd detail"
assert_eq cgroup2fs "$(stat -f -c %T /sys/fs/cgroup)" "the VM's cgroup mount"
assert_eq ok "$(verdict "$out" cgroup2)" "cgroup2"
ctrl=$(cat /sys/fs/cgroup/vigil.slice/cgroup.controllers)
expect=ok
for c in cpu io memory pids; do [[ " $ctrl " == *" $c "* ]] || expect=fail; done
assert_eq "$expect" "$(verdict "$out" controllers)" "controllers (vigil.slice offers: $ctrl)"
assert_eq ok "$expect" "cpu, io, memory and pids delegated to vigil.slice on Debian 12"
if cat /proc/pressure/memory >/dev/null 2>&1; then expect=ok; else expect=warn; fi
assert_eq "$expect" "$(verdict "$out" psi)" "psi (/proc/pressure/memory readable: $expect)"
assert_eq ok "$(verdict "$out" dbus)" "dbus"
# The VM runs no time service (systemd-timesyncd is masked): the kernel says unsynchronised.
sync=$(timedatectl show -p NTPSynchronized --value 2>/dev/null || echo unknown)
if [[ $sync == yes ]]; then expect=ok; else expect=warn; fi
assert_eq "$expect" "$(verdict "$out" clock)" "clock (NTPSynchronized=$sync)"
assert_eq ok "$(verdict "$out" vigild)" "vigild"
[[ $(detail "$out" vigild) == *"(pid $(main_pid vigild.service),"* ]] || fail "vigild detail: $(detail "$out" vigild)"
assert_eq ok "$(verdict "$out" config)" "config"
assert_eq "/etc/vigil/vigil.yaml: valid (tier tier_2, 1 tree(s))" "$(detail "$out" config)" "config detail"
assert_eq ok "$(verdict "$out" trees)" "trees"
assert_eq "1 tree(s) running" "$(detail "$out" trees)" "trees detail"
assert_eq ok "$(verdict "$out" watchdog)" "watchdog (WatchdogTimestamp of vigild.service within WatchdogUSec)"
[[ $(detail "$out" watchdog) == "WatchdogSec=30.0s, last keep-alive "* ]] || fail "watchdog detail: $(detail "$out" watchdog)"
pass_step "healthy host: every check ok (clock and psi as the host says), exit 0"

# The same from vigilctl, as an unprivileged user (everyone may read vigil's status).
uout=$(runuser -u nobody -- vigilctl doctor --json) || fail "vigilctl doctor as nobody: exit $?"
assert_eq "$(jq -c '[.checks[] | [.name, .verdict]]' <<<"$out")" \
    "$(jq -c '[.checks[] | [.name, .verdict]]' <<<"$uout")" "vigilctl doctor (nobody) verdicts"
pass_step "vigilctl doctor as nobody: the same verdicts"

# vigild killed (SIGKILL) and restarted by systemd: the watchdog check says so.
vpid=$(main_pid vigild.service)
safe_kill -KILL "$vpid"
_restarted() { [[ $(unit_prop vigild.service NRestarts) == 1 ]] && vigil_is_ready; }
wait_for 120 _restarted
rc=0; out=$(vigild --doctor --json) || rc=$?
assert_eq 0 "$rc" "exit status after an automatic restart (a warning)"
assert_eq warn "$(verdict "$out" watchdog)" "watchdog after an automatic restart"
[[ $(detail "$out" watchdog) == *"restarted 1 time(s) this boot"* ]] || fail "watchdog detail: $(detail "$out" watchdog)"
pass_step "after systemd restarted a killed vigild: watchdog warns (restarted 1 time), exit 0"

# A tree that fails: named, with the reason, exit 1.
assert_eq config-applied "$(vigil_apply <<YAML
tier: tier_2
trees:
  calm:
    children:
      - {name: a, command: [$VIGIL_WORKER_BIN]}
  loop:
    intensity: {max_restarts: 1, period: 5min}
    children:
      - name: crasher
        command: [$VIGIL_WORKER_BIN, --exit-after, "1", --exit-code, "3"]
        backoff: {initial: 200ms, max: 1s, jitter: 0}
YAML
)" "reload result"
_loop_failed() { [[ $(vigil_field supervisors loop state) == failed ]]; }
wait_for 240 _loop_failed
rc=0; out=$(vigilctl doctor --json) || rc=$?
assert_eq 1 "$rc" "vigilctl doctor exit status with a failed tree"
assert_eq false "$(jq -r .ok <<<"$out")" "ok"
assert_eq fail "$(verdict "$out" trees)" "trees"
[[ $(detail "$out" trees) == "1 of 2 tree(s) not running: loop: failed"* ]] || fail "trees detail: $(detail "$out" trees)"
[[ $(fixof "$out" trees) == *"vigilctl reset TREE"* ]] || fail "trees fix: $(fixof "$out" trees)"
rc=0; text=$(vigilctl doctor) || rc=$?
assert_eq 1 "$rc" "vigilctl doctor (text) exit status with a failed tree"
grep -E '^fail +trees ' <<<"$text" >/dev/null || fail "text form: no 'fail trees' line: $text"
grep -E '^ +fix: vigilctl status TREE' <<<"$text" >/dev/null || fail "text form: no fix line: $text"
pass_step "a failed tree: trees fails by name with the fix, exit 1"

# An invalid file on disk (not yet reloaded): the config check fails with the first error;
# what runs is untouched.
cp /etc/vigil/vigil.yaml /tmp/good.yaml
pid_a=$(main_pid vigil-calm-a.service)
printf 'tier: tier_2\ntrees:\n  calm:\n    children:\n      - {name: a, comand: [/bin/true]}\n' >/etc/vigil/vigil.yaml
rc=0; out=$(vigild --doctor --json) || rc=$?
assert_eq 1 "$rc" "vigild --doctor exit status with an invalid file"
assert_eq fail "$(verdict "$out" config)" "config"
[[ $(detail "$out" config) == "/etc/vigil/vigil.yaml: "*" error(s), first: /etc/vigil/vigil.yaml:5:"* ]] ||
    fail "config detail: $(detail "$out" config)"
assert_eq "$pid_a" "$(main_pid vigil-calm-a.service)" "calm/a's MainPID (the doctor changes nothing)"
cp /tmp/good.yaml /etc/vigil/vigil.yaml
pass_step "an invalid file: config fails at its first error (file:line), nothing running touched"

# vigild stopped: vigild fails, what needs it is skipped.
systemctl stop vigild.service
rc=0; out=$(vigild --doctor --json) || rc=$?
assert_eq 1 "$rc" "exit status with vigild stopped"
assert_eq fail "$(verdict "$out" vigild)" "vigild"
assert_eq "vigild.service is inactive (dead)" "$(detail "$out" vigild)" "vigild detail"
assert_eq skip "$(verdict "$out" trees)" "trees"
assert_eq skip "$(verdict "$out" watchdog)" "watchdog"
assert_eq ok "$(verdict "$out" systemd)" "systemd (still)"
systemctl reset-failed vigild.service
systemctl start vigil.target vigild.service
wait_for 120 vigil_is_ready
pass_step "vigild stopped: vigild fails, trees and watchdog skipped, exit 1"

assert_eq config-applied "$(vigil_apply <<<'trees: {}')" "back to no trees"
