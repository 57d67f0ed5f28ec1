#!/bin/bash
# Fault 10 (docs/RELIABILITY.md): a stuck vigild (SIGSTOP). It stops feeding its watchdog
# (WatchdogSec=, shortened here by a drop-in), systemd kills it (Result=watchdog) and
# restarts it, and the new vigild re-adopts every worker with its MainPID.
# vm-timeout: 300
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

mkdir -p /run/systemd/system/vigild.service.d
printf '[Service]\nWatchdogSec=4s\n' >/run/systemd/system/vigild.service.d/50-test-watchdog.conf
systemctl daemon-reload
systemctl reset-failed vigild.service
systemctl restart vigild.service
wait_unit_active vigild.service 60
vigil_start_single_worker
pid=$(main_pid vigil-t-w.service)
inv=$(unit_prop vigil-t-w.service InvocationID)
# Fed while PID 1 answers: vigild is alive 3 periods later.
vpid=$(main_pid vigild.service)
sleep 12
assert_eq "$vpid" "$(main_pid vigild.service)" "vigild fed its watchdog for 3 periods"
pass_step "an idle vigild keeps feeding its watchdog"

t=$(date +%s.%N)
safe_kill STOP "$vpid"
wait_pid_changes vigild.service "$vpid" 60
journalctl -q --since="@$t" -u vigild.service -o cat | grep -q "Watchdog timeout" ||
    journalctl -q --since="@$t" -o cat | grep -q "vigild.service: Watchdog timeout" ||
    fail "systemd did not report a watchdog timeout"
wait_unit_active vigild.service 60
_adopted() { journalctl -q --since="@$t" _SYSTEMD_UNIT=vigild.service VIGIL_EVENT=worker-adopted VIGIL_UNIT=vigil-t-w.service -o cat | grep -q .; }
wait_for 60 _adopted
assert_eq "$pid $inv" "$(main_pid vigil-t-w.service) $(unit_prop vigil-t-w.service InvocationID)" "the worker across the watchdog restart"
pass_step "SIGSTOPped vigild killed by systemd's watchdog, restarted, the worker re-adopted"

rm -f /run/systemd/system/vigild.service.d/50-test-watchdog.conf
systemctl daemon-reload
systemctl reset-failed vigild.service
systemctl restart vigild.service
wait_unit_active vigild.service 60
