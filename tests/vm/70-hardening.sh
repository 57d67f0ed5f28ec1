#!/bin/bash
# vigild.service's sandbox (units/vigild.service, each directive with its reason): the
# exposure systemd-analyze security gives it on systemd 252 stays at or below the one
# recorded here, and nothing vigild needs is missing from it (every other VM test runs
# under the same sandbox; this one checks what they do not: the sandbox as PID 1 applied
# it to the running vigild).
# vm-timeout: 120
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

# Recorded with this unit on systemd 252 (docs/RELIABILITY.md, Hardening).
max_exposure=1.9

out=$(systemd-analyze security vigild.service --no-pager 2>&1) || true
echo "$out"
exposure=$(sed -n 's/.*Overall exposure level for vigild.service: \([0-9.]*\).*/\1/p' <<<"$out")
[[ -n $exposure ]] || fail "no exposure level in the output of systemd-analyze security"
python3 -c "import sys; sys.exit(0 if float('$exposure') <= $max_exposure else 1)" ||
    fail "exposure $exposure is above the recorded $max_exposure"
pass_step "systemd-analyze security vigild.service: $exposure (recorded maximum $max_exposure)"

vpid=$(main_pid vigild.service)
caps=$(awk '/^CapEff/ {print $2}' "/proc/$vpid/status")
assert_eq 0000000000000000 "$caps" "vigild's effective capabilities"
assert_eq 1 "$(awk '/^NoNewPrivs/ {print $2}' "/proc/$vpid/status")" "vigild's NoNewPrivs"
assert_eq 2 "$(awk '/^Seccomp:/ {print $2}' "/proc/$vpid/status")" "vigild's seccomp mode (filter)"
# Writable where it must be, read-only elsewhere.
nsenter -t "$vpid" -m -- sh -c 'touch /var/lib/vigil/.probe && rm /var/lib/vigil/.probe' ||
    fail "/var/lib/vigil is not writable for vigild"
if nsenter -t "$vpid" -m -- sh -c 'touch /etc/vigil/.probe' 2>/dev/null; then
    rm -f /etc/vigil/.probe
    fail "/etc/vigil is writable for vigild"
fi
pass_step "no capabilities, no new privileges, a seccomp filter; /var/lib/vigil writable, /etc read-only"
