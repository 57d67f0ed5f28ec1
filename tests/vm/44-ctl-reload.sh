#!/bin/bash
# vigilctl reload --dry-run prints the plan and changes nothing; vigilctl reload applies
# it and touches only what the plan names; an invalid configuration is refused with its
# file:line:col errors (exit 1), nothing changes; systemctl reload vigild does the same.
# vm-timeout: 300
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

vigil_start_ctl_tree 3
declare -A pids
for u in vigil-app-a vigil-app-w@1 vigil-app-w@2 vigil-app-w@3 vigil-app-sub-x vigil-app-sub-y; do
    pids[$u]=$(main_pid $u.service)
done
gen=$(vigil_config_state)
# Change w's command (all three instances) and sub/y's restart policy; add z.
vigil_ctl_config 3 | sed -e 's/hello from w/hi from w/' \
    -e "/- name: y/a\\            restart: transient" |
    sed -e "\$a\\          - name: z\\n            command: [$VIGIL_WORKER_BIN]" | vigil_write_config
vigild --check-config "$VIGIL_CONFIG" || fail "the test's own configuration is invalid"
ctl_expect 0 reload --dry-run
echo "$ctl_out"
for line in "replace  app/w@1" "replace  app/w@2" "replace  app/w@3" "start    app/sub/z" "update   app/sub/y"; do
    grep -q -- "$line" <<<"$ctl_out" || fail "the plan has no line '$line'"
done
grep -q "(command changed)" <<<"$ctl_out" || fail "the plan does not say why w is replaced"
grep -q "(restart permanent -> transient)" <<<"$ctl_out" || fail "the plan does not say what changes for y"
grep -q "unchanged: 2 worker(s), 2 supervisor(s)" <<<"$ctl_out" || fail "the plan's unchanged count"
grep -q "dry run: nothing changed" <<<"$ctl_out" || fail "no dry-run line"
assert_eq "$gen" "$(vigil_config_state)" "configuration generation after the dry run"
for u in "${!pids[@]}"; do assert_eq "${pids[$u]}" "$(main_pid $u.service)" "$u after the dry run"; done
[[ $(unit_prop vigil-app-sub-z.service ActiveState) != active ]] || fail "the dry run started z"
pass_step "reload --dry-run prints the plan with reasons and changes nothing"

ctl_expect 0 reload
grep -q "applied (configuration generation" <<<"$ctl_out" || fail "no applied line: $ctl_out"
wait_unit_active vigil-app-sub-z.service 60
for i in 1 2 3; do wait_pid_changes "vigil-app-w@$i.service" "${pids[vigil-app-w@$i]}" 60; done
for u in vigil-app-a vigil-app-sub-x vigil-app-sub-y; do
    assert_eq "${pids[$u]}" "$(main_pid $u.service)" "$u (not in the plan) after the reload"
done
pass_step "reload applies the plan: w replaced, z started, a/x/y untouched"

pid_a=$(main_pid vigil-app-a.service)
gen=$(vigil_config_state)
printf 'tier: tier_2\ntrees:\n  app:\n    strategy: sideways\n' | vigil_write_config
ctl_expect 1 reload
echo "$ctl_err"
grep -q "$VIGIL_CONFIG:4:15: trees.app.strategy:" <<<"$ctl_err" || fail "no file:line:col error: $ctl_err"
grep -q "nothing changed" <<<"$ctl_err" || fail "does not say nothing changed"
ctl_expect 1 reload --dry-run
assert_eq "$pid_a" "$(main_pid vigil-app-a.service)" "a after the refused reload"
assert_eq rejected "$(vigil_config_state | cut -d' ' -f2)" "last reload result"
ctl_expect 0 status
grep -q "the last reload was rejected" <<<"$ctl_out" || fail "status does not show the rejected reload"
pass_step "an invalid configuration is refused with file:line:col, exit 1, nothing changes"

assert_eq config-rejected "$(printf 'trees: [\n' | vigil_apply)" "systemctl reload with a broken file"
assert_eq config-applied "$(vigil_ctl_config 3 | vigil_apply)" "systemctl reload with a good file"
pass_step "systemctl reload vigild does the same"
