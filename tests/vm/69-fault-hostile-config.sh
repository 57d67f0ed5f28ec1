#!/bin/bash
# Fault 9 (docs/RELIABILITY.md): the hostile configuration corpus (tests/fixtures/hostile)
# fed to a running vigild, one file after the other through `vigilctl reload`: each is
# rejected with exactly the errors the loader's unit test expects (naming
# /etc/vigil/vigil.yaml), and vigild keeps every worker (MainPIDs unchanged) and its
# own PID, then applies a valid file as before.
# vm-timeout: 300
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

corpus=$(dirname "$0")/../fixtures/hostile
[[ -d $corpus ]] || fail "no hostile corpus at $corpus"
vigil_start_ctl_tree 2
units="vigil-app-a.service vigil-app-w@1.service vigil-app-w@2.service vigil-app-sub-x.service vigil-app-sub-y.service"
snapshot() { for u in $units; do echo "$u $(unit_prop "$u" MainPID)"; done; }
before=$(snapshot)
vpid=$(main_pid vigild.service)
n=0
for f in "$corpus"/*.yaml; do
    name=$(basename "$f")
    cp "$f" /etc/vigil/vigil.yaml
    ctl_expect 1 reload
    while IFS= read -r line; do
        want=${line//$name//etc/vigil/vigil.yaml}
        [[ "$ctl_out$ctl_err" == *"$want"* ]] || fail "$name: missing error line: $want
stdout: $ctl_out
stderr: $ctl_err"
    done <"$f.expected"
    n=$((n + 1))
done
assert_eq "$before" "$(snapshot)" "every worker's MainPID after $n hostile reloads"
assert_eq "$vpid" "$(main_pid vigild.service)" "vigild's PID"
pass_step "$n hostile files rejected with their exact errors; nothing running changed"
assert_eq config-applied "$(vigil_ctl_config 2 | vigil_apply)" "a valid file afterwards"
assert_eq "$before" "$(snapshot)" "every worker's MainPID after the valid file"
pass_step "the valid file applied; still nothing restarted"
