#!/bin/bash
# The main job, shown inside a VM: vigil supervising the example trees of
# /usr/share/vigil/example.yaml (installed by the package, copied to /etc/vigil/vigil.yaml),
# one worker killed to show a restart.
# vm-timeout: 400
set -u
say() { printf '\n===== %s\n' "$*"; }

say "waiting for vigil.target"
for _ in $(seq 1 240); do
    systemctl is-active --quiet vigil.target && systemctl is-active --quiet vigild.service && break
    sleep 0.5
done
systemctl --no-pager status vigil.target vigild.service | sed -n '1,12p'

say "as installed, /etc/vigil/vigil.yaml supervises nothing; applying the example"
cp /usr/share/vigil/example.yaml /etc/vigil/vigil.yaml
vigild --check-config
systemctl reload vigild.service
grep -vE '^\s*(#|$)' /etc/vigil/vigil.yaml
for _ in $(seq 1 240); do
    [ "$(systemctl list-units --plain --no-legend --state=active 'vigil-*.service' | grep -vc vigil-test-runner)" -ge 7 ] && break
    sleep 0.5
done
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
