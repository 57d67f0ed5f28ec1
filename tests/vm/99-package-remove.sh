#!/bin/bash
# Removing the package stops vigil as a whole, in tree order, and leaves nothing running;
# installing it again brings vigild back. Runs last: it reinstalls the package it removed.
# vm-timeout: 300
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

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

dpkg -r vigil
systemctl is-active --quiet vigild.service && fail "vigild still runs after dpkg -r"
left=$(vigil_worker_units active,activating,deactivating | wc -l)
assert_eq 0 "$left" "worker units left after dpkg -r"
assert_eq "c b a" "$(order_of TERM)" "stop order on package removal"
pass_step "dpkg -r: every worker stopped, in reverse order, before the package was gone"

dpkg -i /opt/vigil-test/*.deb
wait_unit_active vigild.service 120
wait_unit_active vigil-r-c.service 90
pass_step "dpkg -i: vigild back with the kept configuration"
