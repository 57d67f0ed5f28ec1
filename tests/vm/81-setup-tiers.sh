#!/bin/bash
# /usr/share/vigil/setup-vigil, as the package installs it, on real systemd 252 without a
# network, and tier switching (vigil.yaml(5), TIERS):
#  - --dry-run changes nothing: the configuration's bytes and mtime, the files in
#    /etc/vigil, vigild's InvocationID and MainPID, vigil.target, the configuration
#    generation; it says what it would do;
#  - a real run installs the file (tier: added, the previous file kept as .setup-vigil.bak,
#    no temporary file left), reloads vigild (same InvocationID), waits until the tree runs
#    and prints vigilctl status; a second identical run changes nothing (mtime, workers'
#    and vigild's MainPIDs, generation) and says "unchanged";
#  - an invalid file is refused with its file:line:col errors, exit 4, before anything
#    changes; VIGIL_TIER in /etc/default/vigil that disagrees with --tier is warned about;
#  - tier_2 -> tier_3 by changing `tier:` and reloading: vigilctl status --json (tier,
#    intensity), /metrics (sampling interval) and the units (TimeoutStopUSec) show tier_3;
#    exactly the worker that takes stop.timeout from the tier is replaced (new MainPID,
#    one worker-stopping event, reason spec-changed), the one with its own stop.timeout
#    keeps its process; the plan says why for each.
# vm-timeout: 900
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

SETUP=/usr/share/vigil/setup-vigil
[[ -x $SETUP ]] || fail "$SETUP is not installed by the package"
debs=(/opt/vigil-test/vigil_*.deb)
deb=${debs[0]}
[[ -f $deb ]] || fail "no vigil .deb in /opt/vigil-test"
version=$(dpkg-query -W -f '${Version}' vigil)
assert_eq "$(dpkg-deb -f "$deb" Version)" "$version" "the installed vigil is the .deb's version"
BAK=$VIGIL_CONFIG.setup-vigil.bak
cp -p "$VIGIL_CONFIG" /tmp/81-original.yaml
cp -p /etc/default/vigil /tmp/81-default-vigil
rm -f "$BAK"
wait_for 120 vigil_is_ready
# A VIGIL_TIER would override the tiers under test: none configured, none in vigild's
# environment (a reload keeps the one it started with).
! grep -q '^VIGIL_TIER=' /etc/default/vigil || fail "/etc/default/vigil sets VIGIL_TIER (left by an earlier test?)"
vpid=$(main_pid vigild.service)
if tr '\0' '\n' <"/proc/$vpid/environ" | grep -q '^VIGIL_TIER='; then vigil_restart_ready; fi

# setup RC ARGS... — run setup-vigil, fail unless it exits RC; its output is in $out.
setup() {
    local want=$1 rc=0
    shift
    out=$(timeout 600 "$SETUP" "$@" 2>&1) || rc=$?
    printf '  | %s\n' "${out//$'\n'/$'\n'  | }"
    ((rc != 124)) || fail "setup-vigil $*: no end within 600 s"
    [[ $rc == "$want" ]] || fail "setup-vigil $*: exit $rc, expected $want"
}
# said REGEX WHAT — fail unless a line of $out matches REGEX (grep -E).
said() {
    grep -q -E -- "$1" <<<"$out" || fail "setup-vigil did not say $2 (no line matching '$1')"
}
# state — what a run that changes nothing must leave as it was.
state() {
    echo "config $(sha256sum <"$VIGIL_CONFIG") $(stat -c %y "$VIGIL_CONFIG")"
    echo "files $(find /etc/vigil -maxdepth 1 -printf '%f\n' | sort | xargs)"
    echo "vigild $(unit_prop vigild.service InvocationID) $(unit_prop vigild.service MainPID)"
    echo "target $(systemctl is-enabled vigil.target) $(unit_prop vigil.target ActiveState) $(unit_prop vigil.target InvocationID)"
    echo "generation $(vigil_config_state)"
    echo "package $(dpkg-query -W -f '${Status} ${Version}' vigil)"
}
metric() { # NAME [LABEL-MATCH] — the value of a /metrics series
    curl -fsS --max-time 10 http://127.0.0.1:9753/metrics |
        awk -v n="$1" -v m="${2:-}" '!found && ($1 == n || index($1, n "{") == 1) && (m == "" || index($1, m)) {print $2; found = 1}'
}

# The configuration under test: no tier: key (setup-vigil writes it), one worker that takes
# stop.timeout from the tier, one that sets its own; tree svc takes its intensity from the
# tier.
cat >/tmp/81-x.yaml <<YAML
# setup-vigil test (tests/vm/81-setup-tiers.sh)
trees:
  svc:
    children:
      - name: inherits
        command: [$VIGIL_WORKER_BIN]
      - name: pinned
        command: [$VIGIL_WORKER_BIN]
        stop: {timeout: 10s}
YAML

# ---- --dry-run ----
before=$(state)
setup 0 --dry-run --deb /opt/vigil-test/vigil_*.deb --tier tier_2 --config /tmp/81-x.yaml
assert_eq "$before" "$(state)" "state after the dry run"
said "^unchanged: vigil $version is installed \(the version of $deb\)" "that the package is installed"
said "^would install $VIGIL_CONFIG from /tmp/81-x.yaml \(tier: tier_2\)" "what it would install"
said "^would reload vigild" "that it would reload"
said "^would wait up to 120s" "that it would wait"
said "^dry run: nothing changed" "that the dry run changed nothing"
pass_step "--dry-run: says what it would do, changes nothing (config bytes and mtime, /etc/vigil, vigild, generation)"

# ---- a real run ----
inv=$(unit_prop vigild.service InvocationID)
cp -p "$VIGIL_CONFIG" /tmp/81-before.yaml
setup 0 --deb "$deb" --tier tier_2 --config /tmp/81-x.yaml --timeout 300
assert_eq "$(cat /tmp/81-x.yaml; echo 'tier: tier_2')" "$(cat "$VIGIL_CONFIG")" "the installed configuration"
cmp -s /tmp/81-before.yaml "$BAK" || fail "the previous configuration was not kept as $BAK"
leftover=$(find /etc/vigil -maxdepth 1 -name '.vigil.yaml.setup-vigil.*' | wc -l)
assert_eq 0 "$leftover" "temporary files left in /etc/vigil"
assert_eq "$inv" "$(unit_prop vigild.service InvocationID)" "vigild's InvocationID (reloaded, not restarted)"
said "^applied \(configuration generation [0-9]+\)" "vigilctl reload's result"
said "^every tree runs: svc$" "that the tree runs"
said "^[^a-z]*svc +running +one_for_one" "vigilctl status (tree svc)"
said "^[^a-z]*inherits +(starting|running) " "vigilctl status (worker inherits)"
said "^done: " "what it did"
wait_unit_active vigil-svc-inherits.service 120
wait_unit_active vigil-svc-pinned.service 120
assert_eq running "$(vigil_field supervisors svc state)" "tree svc"
assert_eq tier_2 "$(vigil_json | jq -r .vigild.tier)" "vigild's tier"
pass_step "a real run installs the file (previous kept), reloads vigild, waits for the tree, prints the status"

# ---- the same run again ----
before=$(state)
p_inherits=$(main_pid vigil-svc-inherits.service)
p_pinned=$(main_pid vigil-svc-pinned.service)
bak_state="$(sha256sum <"$BAK") $(stat -c %y "$BAK")"
setup 0 --deb "$deb" --tier tier_2 --config /tmp/81-x.yaml --timeout 300
assert_eq "$before" "$(state)" "state after the second run"
assert_eq "$p_inherits" "$(main_pid vigil-svc-inherits.service)" "svc/inherits MainPID after the second run"
assert_eq "$p_pinned" "$(main_pid vigil-svc-pinned.service)" "svc/pinned MainPID after the second run"
assert_eq "$bak_state" "$(sha256sum <"$BAK") $(stat -c %y "$BAK")" "$BAK after the second run"
said "^unchanged: vigil $version is installed" "that the package is unchanged"
said "^unchanged: $VIGIL_CONFIG \(the same content" "that the configuration is unchanged"
said "^unchanged: vigil.target is enabled" "that vigil.target is unchanged"
said "^unchanged: no reload" "that it does not reload"
said "^unchanged: nothing to do" "that nothing changed"
! grep -q -E "^(install|reload|start|enable|set) " <<<"$out" || fail "the second run did something: $out"
pass_step "the same run again changes nothing (config mtime, MainPIDs, generation) and says unchanged"

# ---- an invalid file ----
cat >/tmp/81-bad.yaml <<YAML
trees:
  svc:
    strategy: sideways
    children:
      - name: inherits
        command: [$VIGIL_WORKER_BIN]
YAML
setup 4 --deb "$deb" --tier tier_2 --config /tmp/81-bad.yaml --timeout 300
said "^/tmp/81-bad.yaml:3:15: trees.svc.strategy: expected one of one_for_one" "the file:line:col error"
said "refused by vigild --check-config; nothing changed" "that nothing changed"
assert_eq "$before" "$(state)" "state after the refused file"
assert_eq "$p_inherits" "$(main_pid vigil-svc-inherits.service)" "svc/inherits MainPID after the refused file"
assert_eq "$bak_state" "$(sha256sum <"$BAK") $(stat -c %y "$BAK")" "$BAK after the refused file"
pass_step "an invalid file is refused with file:line:col (exit 4) before anything changes"

# ---- VIGIL_TIER that disagrees with --tier ----
vpid=$(main_pid vigild.service)
echo "VIGIL_TIER=tier_1" >>/etc/default/vigil
setup 0 --dry-run --tier tier_3 --config /tmp/81-x.yaml
said "warning: VIGIL_TIER=tier_1 in /etc/default/vigil overrides tier: tier_3" "that VIGIL_TIER wins"
said "warning: vigild \(pid $vpid\) runs with VIGIL_TIER=\(unset\)" "that a reload keeps vigild's environment"
cp -p /tmp/81-default-vigil /etc/default/vigil
assert_eq "$before" "$(state)" "state after the dry run with VIGIL_TIER"
pass_step "VIGIL_TIER in /etc/default/vigil that disagrees with --tier is warned about"

# ---- tier_2 -> tier_3 ----
assert_eq 5 "$(vigil_field supervisors svc max_restarts)" "svc's intensity under tier_2"
assert_eq 15s "$(unit_prop vigil-svc-inherits.service TimeoutStopUSec)" "inherits' stop timeout under tier_2"
assert_eq 10s "$(unit_prop vigil-svc-pinned.service TimeoutStopUSec)" "pinned's own stop timeout"
assert_eq 1 "$(metric vigil_sampler_interval_seconds)" "sampling interval under tier_2"
assert_eq 5 "$(metric vigil_supervisor_max_restarts 'supervisor="svc"')" "svc's intensity on /metrics under tier_2"
assert_eq 0 "$(count_events worker-stopping vigil-svc-inherits.service)" "worker-stopping events of inherits before the switch"
assert_eq 0 "$(count_events worker-stopping vigil-svc-pinned.service)" "worker-stopping events of pinned before the switch"
setup 0 --deb "$deb" --tier tier_3 --config /tmp/81-x.yaml --timeout 300
assert_eq "$(cat /tmp/81-x.yaml; echo 'tier: tier_3')" "$(cat "$VIGIL_CONFIG")" "the configuration with tier: tier_3"
said "^set tier: tier_3|^install $VIGIL_CONFIG from /tmp/81-x.yaml \(tier: tier_3\)" "that it changes tier:"
said "^replace +svc/inherits +\(stop changed\)$" "that inherits is replaced (stop.timeout 15s -> 30s)"
said "^update +svc/pinned +\(backoff changed\)$" "that pinned is only updated"
said "^update +svc +\(intensity 5 in 30s -> 3 in 30s\)$" "that svc's intensity changes"
said "^unchanged: 0 worker\(s\), 0 supervisor\(s\)$" "the plan's unchanged count"
wait_pid_changes vigil-svc-inherits.service "$p_inherits" 120
assert_eq "$p_pinned" "$(main_pid vigil-svc-pinned.service)" "svc/pinned MainPID after the switch (its own stop.timeout)"
assert_eq "$inv" "$(unit_prop vigild.service InvocationID)" "vigild's InvocationID after the switch"
assert_eq tier_3 "$(vigil_json | jq -r .vigild.tier)" "vigild's tier after the switch"
assert_eq 3 "$(vigil_field supervisors svc max_restarts)" "svc's intensity under tier_3"
assert_eq 30000000 "$(vigil_field supervisors svc period_usec)" "svc's intensity period under tier_3"
assert_eq 30s "$(unit_prop vigil-svc-inherits.service TimeoutStopUSec)" "inherits' stop timeout under tier_3"
assert_eq 10s "$(unit_prop vigil-svc-pinned.service TimeoutStopUSec)" "pinned's stop timeout under tier_3"
_interval_5() { [[ $(metric vigil_sampler_interval_seconds) == 5 ]]; }
wait_for 60 _interval_5
assert_eq 3 "$(metric vigil_supervisor_max_restarts 'supervisor="svc"')" "svc's intensity on /metrics under tier_3"
assert_eq 1 "$(count_events worker-stopping vigil-svc-inherits.service)" "worker-stopping events of inherits"
vigil_events VIGIL_EVENT=worker-stopping VIGIL_UNIT=vigil-svc-inherits.service | grep -q "^worker-stopping spec-changed " ||
    fail "inherits was not stopped for its changed spec: $(vigil_events VIGIL_EVENT=worker-stopping)"
assert_eq 0 "$(count_events worker-stopping vigil-svc-pinned.service)" "worker-stopping events of pinned"
assert_eq running "$(vigil_field supervisors svc state)" "tree svc after the switch"
pass_step "tier_2 -> tier_3 by tier: and a reload: tier, intensity, interval and stop timeout follow; only inherits restarts"

# ---- back to how the test found it ----
assert_eq config-applied "$(vigil_apply </tmp/81-original.yaml)" "reload to the original configuration"
_svc_gone() { [[ -z $(vigil_worker_units | grep '^vigil-svc-' || true) ]]; }
wait_for 120 _svc_gone
rm -f "$BAK" /tmp/81-x.yaml /tmp/81-bad.yaml /tmp/81-before.yaml /tmp/81-original.yaml /tmp/81-default-vigil
pass_step "the original configuration is back, tree svc is gone"
