#!/bin/bash
# A bad configuration: `vigild --check-config` prints file:line:col and exits 1; a reload
# with it is refused, vigild stays up and keeps its workers exactly as they were.
# vm-timeout: 300
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

vigil_start_single_worker
u=vigil-t-w.service
pid=$(main_pid $u)
inv=$(unit_prop $u InvocationID)

bad=$(mktemp /tmp/bad-XXXX.yaml)
cat >"$bad" <<'YAML'
trees:
  t:
    strategy: one_for_one
    children:
      - name: w
        command: [/usr/bin/sleep, "100"]
        limits: {memory_max: lots}
YAML
rc=0
out=$(vigild --check-config "$bad" 2>&1) || rc=$?
echo "$out"
assert_eq 1 "$rc" "--check-config exit status"
[[ $out == *"$bad:7:"*"memory_max"*"lots"* ]] || fail "--check-config output lacks file:line:col, key and value"
pass_step "--check-config: file:line:col error, exit 1"

assert_eq config-rejected "$(vigil_apply <"$bad")" "reload result"
systemctl is-active --quiet vigild.service || fail "vigild is not active after a bad reload"
[[ $(unit_prop vigild.service StatusText) == *"reload failed"* ]] || fail "STATUS= does not say the reload failed: $(unit_prop vigild.service StatusText)"
# journald stores the event asynchronously: give it a moment.
_rejected_logged() {
    journal_since_test _SYSTEMD_UNIT=vigild.service VIGIL_EVENT=config-rejected -o cat |
        grep 'vigil.yaml:7:30: trees.t.children\[0\].limits.memory_max' >/dev/null
}
wait_for 30 _rejected_logged
assert_eq "$pid" "$(main_pid $u)" "worker MainPID after the bad reload"
assert_eq "$inv" "$(unit_prop $u InvocationID)" "worker InvocationID after the bad reload"
pass_step "bad reload refused; worker untouched"
