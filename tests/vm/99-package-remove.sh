#!/bin/bash
# The package's life with apt, as an operator drives it. Removing it stops vigil as a
# whole, in tree order, and leaves nothing running but keeps the configuration and state;
# installing it again brings vigild back with the kept configuration. Purging it removes
# /etc/vigil, /var/lib/vigil and the group vigil; a fresh install after that enables and
# starts vigil.target with the shipped (empty) configuration. Runs last.
# vm-timeout: 420
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

deb=$(ls /opt/vigil-test/vigil_*.deb | head -n 1)
apt() { DEBIAN_FRONTEND=noninteractive apt-get -y -q "$@"; }

vigil_install_stoplog
B=/usr/local/bin/vigil-test-stoplog
result=$(vigil_apply <<YAML
tier: tier_2
trees:
  r:
    children:
      - {name: a, command: [$B, a, exit]}
      - {name: b, command: [$B, b, exit]}
      - {name: c, command: [$B, c, exit]}
YAML
)
assert_eq config-applied "$result" "reload result"
wait_unit_active vigil-r-c.service 90
wait_for 30 bash -c '[ "$(grep -c START /run/vigil-order.log)" = 3 ]'  # each has set its trap
wait_for 30 test -s /var/lib/vigil/supervision.json

apt remove vigil
systemctl is-active --quiet vigild.service && fail "vigild still runs after apt-get remove"
left=$(vigil_worker_units active,activating,deactivating | wc -l)
assert_eq 0 "$left" "worker units left after apt-get remove"
assert_eq "c b a" "$(order_of TERM)" "stop order on package removal"
assert_eq "deinstall ok config-files" "$(dpkg-query -W -f '${Status}' vigil)" "package status"
grep -q "vigil-test-stoplog" /etc/vigil/vigil.yaml || fail "the configuration was not kept"
[[ -d /var/lib/vigil ]] || fail "/var/lib/vigil was removed by a remove (only purge does)"
getent group vigil >/dev/null || fail "the group vigil was removed by a remove"
pass_step "apt-get remove: every worker stopped, in reverse order; configuration, state and group kept"

apt install "$deb"
wait_unit_active vigild.service 120
wait_unit_active vigil.target 60
wait_unit_active vigil-workers.target 60
wait_unit_active vigil-r-c.service 90
pass_step "apt-get install: vigild, vigil.target and vigil-workers.target back with the kept configuration"

apt purge vigil
systemctl is-active --quiet vigild.service && fail "vigild still runs after apt-get purge"
assert_eq 0 "$(vigil_worker_units active,activating,deactivating | wc -l)" "worker units left after purge"
[[ ! -e /etc/vigil ]] || fail "/etc/vigil is left after purge: $(find /etc/vigil)"
[[ ! -e /etc/default/vigil ]] || fail "/etc/default/vigil is left after purge"
[[ ! -e /var/lib/vigil ]] || fail "/var/lib/vigil is left after purge"
getent group vigil >/dev/null && fail "the group vigil is left after purge"
dpkg-query -W -f '${Status}' vigil 2>/dev/null | grep -q installed && fail "vigil still known to dpkg"
pass_step "apt-get purge: /etc/vigil, /etc/default/vigil, /var/lib/vigil and the group are gone"

apt install "$deb"
wait_unit_active vigild.service 120
wait_unit_active vigil.target 60
assert_eq enabled "$(systemctl is-enabled vigil.target)" "vigil.target after a fresh install"
assert_eq enabled "$(systemctl is-enabled vigild.service)" "vigild.service after a fresh install"
getent group vigil >/dev/null || fail "no group vigil after a fresh install"
assert_eq root:root "$(stat -c %U:%G /etc/vigil/vigil.yaml)" "owner of the shipped configuration"
cmp -s <(dpkg-deb --fsys-tarfile "$deb" | tar -xO ./etc/vigil/vigil.yaml) /etc/vigil/vigil.yaml ||
    fail "the fresh install's /etc/vigil/vigil.yaml is not the shipped one"
[[ -z $(vigil_worker_units) ]] || fail "workers run right after a fresh install"
vigild --doctor >/dev/null || fail "vigild --doctor fails after a fresh install: $(vigild --doctor)"
pass_step "fresh install after purge: target enabled and active, shipped configuration, group back, doctor passes"
