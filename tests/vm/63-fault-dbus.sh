#!/bin/bash
# Fault 3 (docs/RELIABILITY.md): dbus-daemon restarted (systemctl restart dbus) while
# workers run, and a worker killed during the outage. vigild does not exit: it reconnects
# (backoff with jitter), waits for PID 1 on the new bus, re-subscribes and reads every
# worker again; the worker that died while it was cut off is restarted, the others keep
# their MainPIDs, and the API (vigilctl) answers again.
# vm-timeout: 300
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

vigil_start_ctl_tree 2
vpid=$(main_pid vigild.service)
apid=$(main_pid vigil-app-a.service)
xpid=$(main_pid vigil-app-sub-x.service)
w1=$(main_pid 'vigil-app-w@1.service')

t=$(date +%s.%N)
# The kill lands while the bus is down: its PropertiesChanged signal is lost with it.
systemctl restart dbus.service &
restart=$!
sleep 0.2
safe_kill KILL "$apid"
wait "$restart"
_back() { journalctl -q --since="@$t" -u vigild.service -o cat | grep -q "back on the system bus after"; }
wait_for 60 _back
journalctl -q --since="@$t" -u vigild.service -o cat | grep -q "the system bus connection was closed; reconnecting" ||
    fail "the loss was not logged"
assert_eq "$vpid" "$(main_pid vigild.service)" "vigild's PID across the dbus restart (it did not exit)"
wait_pid_changes vigil-app-a.service "$apid" 90
assert_eq "$xpid" "$(main_pid vigil-app-sub-x.service)" "sub/x's MainPID across the dbus restart"
assert_eq "$w1" "$(main_pid 'vigil-app-w@1.service')" "w@1's MainPID across the dbus restart"
n=$(journalctl -q --since="@$t" _SYSTEMD_UNIT=vigild.service VIGIL_EVENT=worker-starting VIGIL_UNIT=vigil-app-a.service -o cat | wc -l)
assert_eq 1 "$n" "starts of a after the outage"
pass_step "dbus restarted: vigild reconnected, a (killed meanwhile) restarted once, the others untouched"

ctl_expect 0 status app
[[ $ctl_out == *"├─ a     running"* ]] || fail "vigilctl status after the reconnect: $ctl_out"
# Still supervising on the new connection: another kill is seen through the new matches.
apid=$(main_pid vigil-app-a.service)
safe_kill KILL "$apid"
wait_pid_changes vigil-app-a.service "$apid" 60
pass_step "the API answers and signals arrive on the new connection"
