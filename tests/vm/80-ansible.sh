#!/bin/bash
# The Ansible role deploy/ansible/roles/vigil, run by ansible-playbook with connection: local
# on this VM (no network), installing the package from /opt/vigil-test/vigil_*.deb:
#  a) a first run writes /etc/vigil/vigil.yaml, reloads vigild once (the handler), and ends
#     with every tree running and every worker unit active;
#  b) the same run again changes nothing: changed=0, no reload, the same MainPIDs;
#  c) a configuration vigild --check-config refuses (a bad size, an unknown key) fails the
#     play on the host, and /etc/vigil/vigil.yaml stays byte-identical, vigild is not
#     reloaded, vigild and every worker keep their MainPIDs.
# Three ansible-playbook runs in all (each takes 40-50 s under emulation). That a changed
# file reloads once and touches only what changed is a): from the previous test's file to
# the role's; what a reload restarts is vigil's own rule (15-reload-diff).
# vm-timeout: 900
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

DEPLOY=/opt/vigil-test/deploy/ansible
[[ -d $DEPLOY/roles/vigil ]] || fail "no role at $DEPLOY/roles/vigil (run-tests copies deploy/ there)"
command -v ansible-playbook >/dev/null || fail "ansible-playbook is not installed in the VM image"
# ansible.builtin.apt needs python3-apt; without it the module runs apt-get to install it,
# which cannot work without network.
/usr/bin/python3 -c 'import apt' 2>/dev/null || fail "python3-apt is not installed in the VM image (ansible.builtin.apt needs it)"
debs=(/opt/vigil-test/vigil_*.deb)
[[ -f ${debs[0]} ]] || fail "no /opt/vigil-test/vigil_*.deb"
deb=${debs[0]}
ansible-playbook --version | sed -n 1p

# From nothing: what an earlier test left is removed first.
assert_eq config-applied "$(printf 'tier: tier_2\ntrees: {}\n' | vigil_apply)" "reload to an empty tree"
_no_workers() { [[ -z $(vigil_worker_units active) ]]; }
wait_for 120 _no_workers
rm -rf /var/cache/vigil-ansible

tmp=$(mktemp -d /tmp/vigil-ansible.XXXXXX)
export ANSIBLE_ROLES_PATH=$DEPLOY/roles ANSIBLE_GATHERING=explicit ANSIBLE_NOCOLOR=1 \
    ANSIBLE_FORCE_COLOR=0 ANSIBLE_LOCALHOST_WARNING=False \
    ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3 ANSIBLE_RETRY_FILES_ENABLED=False \
    ANSIBLE_LOCAL_TEMP=$tmp/ansible-local ANSIBLE_REMOTE_TEMP=$tmp/ansible-remote \
    ANSIBLE_PIPELINING=True LC_ALL=C.UTF-8 # ansible-core refuses to start without a UTF-8 locale
cat >"$tmp/inventory.ini" <<'INI'
[vigil_hosts]
localhost ansible_connection=local
INI
cat >"$tmp/site.yml" <<'YAML'
- name: vigil on this VM
  hosts: vigil_hosts
  gather_facts: false
  roles:
    - role: vigil
YAML

# vars_file [EXTRA] — the role's variables: trees fleet (a, b x2) and batch (x); EXTRA is
# YAML appended to fleet's children.
vars_file() {
    cat <<YAML
vigil_deb: $deb
vigil_tier: tier_2
vigil_defaults:
  backoff: {initial: 500ms, max: 5s, jitter: 0}
vigil_verify_retries: 60
vigil_verify_delay: 2
vigil_verify_workers: true
vigil_trees:
  fleet:
    strategy: one_for_one
    intensity: {max_restarts: 20, period: 60s}
    children:
      - name: a
        command: [$VIGIL_WORKER_BIN]
      - name: b
        command: [$VIGIL_WORKER_BIN]
        instances: 2
${1:-}
  batch:
    children:
      - name: x
        command: [$VIGIL_WORKER_BIN]
YAML
}
vars_file >"$tmp/good.yml"
vars_file "      - name: c
        command: [$VIGIL_WORKER_BIN]
        limits: {memory_max: lots}
        restart_policy: always" >"$tmp/bad.yml"

# run_play NAME VARS — ansible-playbook on this host with the variables file VARS; the output
# is printed and kept in $tmp/NAME.log, the exit status in $play_rc.
run_play() {
    local t0=$SECONDS
    play_rc=0
    (cd "$tmp" && timeout 480 ansible-playbook -i inventory.ini site.yml -e "@$2") >"$tmp/$1.log" 2>&1 ||
        play_rc=$?
    echo "--- ansible-playbook, $1 run: exit $play_rc after $((SECONDS - t0)) s"
    sed 's/^/  | /' "$tmp/$1.log"
    ((play_rc != 124)) || fail "$1 run: ansible-playbook did not finish within 480 s"
}
# recap NAME FIELD — FIELD (ok, changed, failed, ...) of the PLAY RECAP line of localhost.
recap() {
    local v
    v=$(grep -E '^localhost +: ' "$tmp/$1.log" | grep -oE "(^| )$2=[0-9]+" | cut -d= -f2)
    [[ -n $v ]] || fail "$1 run: no $2= in the PLAY RECAP"
    echo "$v"
}
# handler_runs NAME — how many times the reload handler ran.
handler_runs() {
    grep -c 'RUNNING HANDLER \[vigil : Reload vigild' "$tmp/$1.log" || true
}
generation() {
    local g
    g=$(vigil_config_state)
    echo "${g%% *}"
}
UNITS=(vigil-fleet-a vigil-fleet-b@1 vigil-fleet-b@2 vigil-batch-x)
declare -A pids
record_pids() {
    local u
    pids[vigild]=$(main_pid vigild.service)
    for u in "${UNITS[@]}"; do pids[$u]=$(main_pid "$u.service"); done
}
check_pids() { # WHEN
    local u
    assert_eq "${pids[vigild]}" "$(main_pid vigild.service)" "vigild's MainPID $1"
    for u in "${UNITS[@]}"; do assert_eq "${pids[$u]}" "$(main_pid "$u.service")" "$u's MainPID $1"; done
}
# Independent of the role's own check: every supervisor running, no tree failed.
all_running() {
    [[ $(vigil_json | jq -r '[.supervisors[] | select(.state != "running")] | length') == 0 &&
        $(vigil_json | jq -r '.vigild.trees_failed') == 0 ]]
}

# ---- a) first run ------------------------------------------------------------------------
vigild_pid=$(main_pid vigild.service)
gen=$(generation)
run_play first "$tmp/good.yml"
((play_rc == 0)) || fail "first run: ansible-playbook exited $play_rc"
assert_eq 0 "$(recap first failed)" "first run: failed="
assert_eq 1 "$(handler_runs first)" "first run: reload handler runs"
assert_eq $((gen + 1)) "$(generation)" "configuration generation after the first run"
assert_eq applied "$(vigil_config_state | cut -d' ' -f2)" "last reload result after the first run"
grep -q 'managed by Ansible' "$VIGIL_CONFIG" || fail "no 'managed by Ansible' header in $VIGIL_CONFIG"
assert_eq "root:root 644" "$(stat -c '%U:%G %a' "$VIGIL_CONFIG")" "owner and mode of $VIGIL_CONFIG"
vigild --check-config "$VIGIL_CONFIG" || fail "the installed configuration does not pass --check-config"
[[ -f /var/cache/vigil-ansible/${deb##*/} ]] || fail "the .deb was not copied to /var/cache/vigil-ansible"
grep -q 'every tree runs (fleet, batch)' "$tmp/first.log" || fail "first run: the role's final check did not pass"
for u in "${UNITS[@]}"; do wait_unit_active "$u.service" 30; done
all_running || fail "first run: not every supervisor runs: $(vigil_json | jq -c '[.supervisors[] | {path, state}]')"
assert_eq "$vigild_pid" "$(main_pid vigild.service)" "vigild's MainPID after the first run (same .deb: not reinstalled)"
pass_step "first run: config installed (root:root 0644, checked), one reload, fleet and batch running"

# ---- b) the same again ---------------------------------------------------------------------
record_pids
run_play second "$tmp/good.yml"
((play_rc == 0)) || fail "second run: ansible-playbook exited $play_rc"
assert_eq 0 "$(recap second changed)" "second run: changed="
assert_eq 0 "$(recap second failed)" "second run: failed="
assert_eq 0 "$(handler_runs second)" "second run: reload handler runs"
assert_eq $((gen + 1)) "$(generation)" "configuration generation after the second run"
check_pids "after the second run"
pass_step "second identical run: changed=0, no reload, same MainPIDs"

# ---- c) a configuration vigild refuses ---------------------------------------------------------
sum=$(sha256sum <"$VIGIL_CONFIG")
run_play bad "$tmp/bad.yml"
((play_rc != 0)) || fail "bad run: ansible-playbook exited 0"
assert_eq 1 "$(recap bad failed)" "bad run: failed="
grep -q 'failed to validate' "$tmp/bad.log" || fail "bad run: the failure is not the template's validate"
grep -q "expected a size like 512M, found 'lots'" "$tmp/bad.log" || fail "bad run: vigild's error for the size is not shown"
grep -q "unknown key 'restart_policy'" "$tmp/bad.log" || fail "bad run: vigild's error for the unknown key is not shown"
assert_eq 0 "$(handler_runs bad)" "bad run: reload handler runs"
assert_eq "$sum" "$(sha256sum <"$VIGIL_CONFIG")" "$VIGIL_CONFIG after the refused run (sha256)"
assert_eq $((gen + 1)) "$(generation)" "configuration generation after the refused run"
check_pids "after the refused run"
[[ $(unit_prop vigil-fleet-c.service ActiveState) != active ]] || fail "bad run: fleet/c was started"
all_running || fail "bad run: not every supervisor runs any more"
pass_step "refused configuration: play failed on the host, file byte-identical, no reload, same MainPIDs"

# Leave nothing running for the next test.
assert_eq config-applied "$(printf 'tier: tier_2\ntrees: {}\n' | vigil_apply)" "clean up"
wait_for 120 _no_workers
rm -rf "$tmp" /var/cache/vigil-ansible
