#!/bin/bash
# Fault 8 (docs/RELIABILITY.md): an invalid configuration file when vigild starts (after a
# reboot-like restart: no supervision state either). vigild supervises with the last good
# copy in /var/lib/vigil, says so (journal, STATUS=, vigilctl status, /metrics), keeps
# every worker, still restarts one that dies, and a valid file reloaded ends the fallback.
# vm-timeout: 300
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

vigil_start_single_worker
wait_for 30 test -s /var/lib/vigil/last-good.json
pid=$(main_pid vigil-t-w.service)
inv=$(unit_prop vigil-t-w.service InvocationID)

systemctl stop vigild.service
rm -f /var/lib/vigil/supervision.json # as after a reboot
printf 'tier: tier_2\ntrees:\n  t:\n    children:\n      - name: w\n        comand: [/bin/true]\n' | vigil_write_config
t=$(date +%s.%N)
systemctl reset-failed vigild.service
systemctl start vigild.service
wait_for 120 vigil_is_ready
assert_eq "$pid $inv" "$(main_pid vigil-t-w.service) $(unit_prop vigil-t-w.service InvocationID)" "the worker across the start"
journalctl -q --since="@$t" -u vigild.service -p crit -o cat |
    grep -q "/etc/vigil/vigil.yaml is invalid (/etc/vigil/vigil.yaml:5:9: .*missing required key 'command'.*); supervising with the last good configuration, saved" ||
    fail "no critical journal line about the fallback"
[[ $(unit_prop vigild.service StatusText) == "LAST GOOD CONFIGURATION"* ]] || fail "STATUS= does not say it: $(unit_prop vigild.service StatusText)"
ctl_expect 0 status
[[ $ctl_out == *"LAST GOOD CONFIGURATION: /etc/vigil/vigil.yaml is invalid"* ]] || fail "vigilctl status does not say it: $ctl_out"
[[ $ctl_out == *"comand"* ]] || fail "vigilctl status does not show the error: $ctl_out"
pass_step "invalid file at start: last good copy supervised, said in the journal, STATUS= and vigilctl status"

safe_kill KILL "$pid"
wait_pid_changes vigil-t-w.service "$pid" 60
pass_step "a worker that dies is still restarted"

assert_eq config-applied "$(vigil_single_worker_config | vigil_apply)" "a valid file reloaded"
ctl_expect 0 status
[[ $ctl_out != *"LAST GOOD"* ]] || fail "the fallback is still reported: $ctl_out"
pass_step "a valid file ends the fallback"
