#!/bin/bash
# The main job, shown inside a VM: vigil supervising the example trees of
# /etc/vigil/vigil.yaml (installed by the package), one worker killed to show a restart.
# vm-timeout: 400
set -u
say() { printf '\n===== %s\n' "$*"; }

say "waiting for vigil.target"
for _ in $(seq 1 240); do
    systemctl is-active --quiet vigil.target && systemctl is-active --quiet vigild.service && break
    sleep 0.5
done
systemctl --no-pager status vigil.target vigild.service | sed -n '1,12p'

say "the example configuration (/etc/vigil/vigil.yaml, comments stripped)"
grep -vE '^\s*(#|$)' /etc/vigil/vigil.yaml

sleep 5
say "vigilctl status"
vigilctl status

say "worker units and their slices"
systemctl --no-pager list-units 'vigil-*'
systemd-cgls --no-pager /vigil.slice | grep -v '→' | head -n 30

victim=$(systemctl list-units --plain --no-legend --state=active 'vigil-*.service' |
    awk '$1 != "vigil-test-runner.service" {print $1; exit}')
pid=$(systemctl show -p MainPID --value "$victim")
if [[ $pid =~ ^[0-9]+$ && $pid -gt 1 ]]; then
    say "kill -9 of $victim (MainPID $pid)"
    kill -9 "$pid"
    for _ in $(seq 1 60); do
        new=$(systemctl show -p MainPID --value "$victim")
        [[ $new =~ ^[0-9]+$ && $new -gt 1 && $new != "$pid" ]] && break
        sleep 0.5
    done
    echo "MainPID now: $(systemctl show -p MainPID --value "$victim")"
fi

say "supervision events in the journal"
journalctl --no-pager -u vigild.service -o cat --output-fields=MESSAGE | tail -n 25
say "vigilctl status"
vigilctl status
exit 0
