#!/bin/bash
# A user that does not exist and a working directory that is missing are caught by
# --check-config on this host (file:line:col and the key), skipped with --no-host-checks,
# and when vigild runs such a worker anyway, the start failure names the setting and says
# what is wrong with it.
# vm-timeout: 300
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

cfg=$(mktemp /tmp/host-XXXX.yaml)
cat >"$cfg" <<'YAML'
tier: tier_2
trees:
  h:
    intensity: {max_restarts: 50, period: 10min}
    children:
      - name: ghost
        command: [/bin/sleep, infinity]
        user: vigil_ghost
        backoff: {initial: 5s, jitter: 0}
  d:
    intensity: {max_restarts: 50, period: 10min}
    children:
      - name: nodir
        command: [/bin/sleep, infinity]
        working_directory: /srv/vigil-missing
        backoff: {initial: 5s, jitter: 0}
YAML
rc=0
out=$(vigild --check-config "$cfg" 2>&1) || rc=$?
echo "$out"
assert_eq 1 "$rc" "--check-config exit status"
[[ $out == *"$cfg:8:15: trees.h.children[0].user: user 'vigil_ghost': no such user on this host"* ]] || fail "no user error"
[[ $out == *"$cfg:15:28: trees.d.children[0].working_directory: '/srv/vigil-missing': No such file or directory"* ]] || fail "no working_directory error"
rc=0
vigilctl check-config "$cfg" >/dev/null 2>&1 || rc=$?
assert_eq 1 "$rc" "vigilctl check-config exit status"
vigild --check-config "$cfg" --no-host-checks || fail "--no-host-checks still failed"
pass_step "check-config: both settings caught at file:line:col, --no-host-checks skips them"

assert_eq config-applied "$(vigil_apply <"$cfg")" "reload result (host facts are warnings to vigild)"
wait_for 60 bash -c "journalctl -q _SYSTEMD_UNIT=vigild.service VIGIL_EVENT=worker-start-failed VIGIL_UNIT=vigil-h-ghost.service -o cat | grep -q ."
wait_for 60 bash -c "journalctl -q _SYSTEMD_UNIT=vigild.service VIGIL_EVENT=worker-start-failed VIGIL_UNIT=vigil-d-nodir.service -o cat | grep -q ."
assert_eq user "$(vigil_event_field worker-start-failed vigil-h-ghost.service VIGIL_SETTING)" "setting of the ghost failure"
assert_eq working_directory "$(vigil_event_field worker-start-failed vigil-d-nodir.service VIGIL_SETTING)" "setting of the nodir failure"
m1=$(vigil_event_field worker-start-failed vigil-h-ghost.service MESSAGE)
m2=$(vigil_event_field worker-start-failed vigil-d-nodir.service MESSAGE)
echo "$m1"
echo "$m2"
[[ $m1 == *"cannot apply user 'vigil_ghost' (systemd step USER failed, status 217/USER): no such user on this host"* ]] || fail "ghost event: $m1"
[[ $m2 == *"cannot apply working_directory '/srv/vigil-missing' (systemd step CHDIR failed, status 200/CHDIR): No such file or directory"* ]] || fail "nodir event: $m2"
journal_since_test _SYSTEMD_UNIT=vigild.service VIGIL_EVENT=config-warning -o cat | grep -q "vigil_ghost" || fail "no configuration warning logged"
pass_step "start failures name the setting and the host's answer; the config warning is in the journal"
