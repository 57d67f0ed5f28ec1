#!/bin/bash
# Downgrading and upgrading the package with apt, as an operator does
# (`apt-get install ./vigil_VERSION_amd64.deb`), between two builds of different versions
# (scripts/build-deb --previous): each restarts vigild, as dh_installsystemd does, but
# never stops or restarts a worker (same MainPID and InvocationID) and never restarts
# vigil.target (which would restart every worker through PartOf=); an operator's edit of a
# conffile (a tier file in /etc/vigil/tiers) survives both.
# vm-timeout: 420
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

cur=$(ls /opt/vigil-test/vigil_*.deb | head -n 1)
prev=$(ls /opt/vigil-test/previous/vigil_*.deb | head -n 1)
cur_v=$(dpkg-deb -f "$cur" Version)
prev_v=$(dpkg-deb -f "$prev" Version)
dpkg --compare-versions "$prev_v" lt "$cur_v" || fail "previous build $prev_v is not older than $cur_v"
assert_eq "$cur_v" "$(dpkg-query -W -f '${Version}' vigil)" "installed version at boot"

vigil_start_single_worker
u=vigil-t-w.service
pid=$(main_pid $u)
inv=$(unit_prop $u InvocationID)
tinv=$(unit_prop vigil.target InvocationID)
echo "# an operator's edit (16-upgrade)" >>/etc/vigil/tiers/tier_3.yaml

# change TO_DEB VERSION WHAT — install TO_DEB with apt and check what must (not) change.
change() {
    local deb=$1 version=$2 what=$3 vinv
    vinv=$(unit_prop vigild.service InvocationID)
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --allow-downgrades "$deb"
    assert_eq "$version" "$(dpkg-query -W -f '${Version}' vigil)" "version after the $what"
    assert_eq "install ok installed" "$(dpkg-query -W -f '${Status}' vigil)" "package status after the $what"
    wait_unit_active vigild.service 120
    [[ $(unit_prop vigild.service InvocationID) != "$vinv" ]] || fail "vigild was not restarted by the $what"
    assert_eq "$tinv" "$(unit_prop vigil.target InvocationID)" "vigil.target InvocationID (must not restart)"
    assert_eq "$pid" "$(main_pid $u)" "worker MainPID across the $what"
    assert_eq "$inv" "$(unit_prop $u InvocationID)" "worker InvocationID across the $what"
    wait_for 120 vigil_is_ready
    assert_eq running "$(vigil_field workers t/w state)" "the worker's state as the new vigild sees it"
    grep -q "^# an operator's edit (16-upgrade)" /etc/vigil/tiers/tier_3.yaml ||
        fail "the operator's edit of tier_3.yaml was lost by the $what"
    if ls /etc/vigil/tiers/*.dpkg-* /etc/vigil/*.dpkg-* 2>/dev/null; then
        fail "dpkg left conffile copies"
    fi
}
change "$prev" "$prev_v" downgrade
pass_step "apt downgrade $cur_v -> $prev_v: vigild restarted and re-adopted the worker (same MainPID), target untouched, conffile edit kept"
change "$cur" "$cur_v" upgrade
pass_step "apt upgrade $prev_v -> $cur_v: the same"
sed -i "/^# an operator's edit (16-upgrade)/d" /etc/vigil/tiers/tier_3.yaml
