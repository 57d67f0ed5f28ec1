# shellcheck shell=bash
# tests/vm/lib.sh — helpers for VM integration tests (bash only).
# Source it first:   . "$(dirname "$0")/lib.sh"
#
# Runs as root inside the throwaway VM (see docs/TESTING-VM.md). Sourcing it
# enables `set -Eeuo pipefail`: any failing command fails the test, and an
# unexpected failure is reported with its line number. A test passes iff it
# exits 0.
#
# Caution: `fail` inside `$(...)` only leaves the subshell; a plain
# assignment `x=$(main_pid u)` still aborts the test through `set -e`, but
# `local x=$(...)` or `echo "$(...)"` would not. Assign first, then use.

set -Eeuo pipefail

VIGIL_TEST_NAME=${VIGIL_TEST_NAME:-$(basename "$0" .sh)}
VIGIL_CONFIG=${VIGIL_CONFIG:-/etc/vigil/vigil.yaml}
_vigil_t0=$SECONDS
# When the test started, for journal_since_test. A timestamp, not a cursor: journalctl
# 252 returns nothing for --after-cursor combined with field matches (seen in the VM).
_vigil_since="@$(date +%s.%N)"

_vigil_on_err() { # RC LINE COMMAND — report an unexpected failing command
    # Only in the test's main shell: inside $(...) the caller reports it.
    ((BASH_SUBSHELL == 0)) || return 0
    echo "FAIL: $VIGIL_TEST_NAME: line $2: \`$3\` exited $1" >&2
}
trap '_vigil_on_err $? $LINENO "$BASH_COMMAND"' ERR

# fail MSG... — print MSG and end the test with exit status 1.
fail() {
    echo "FAIL: $VIGIL_TEST_NAME: $*" >&2
    exit 1
}

# pass_step MSG... — progress line, with seconds since the test started.
pass_step() {
    printf '[%4ds] ok: %s\n' "$((SECONDS - _vigil_t0))" "$*"
}

# wait_for TIMEOUT_SECONDS CMD [ARG...] — run CMD every 0.5 s until it exits 0;
# fail (showing CMD) if it has not within TIMEOUT_SECONDS (wall clock).
wait_for() {
    local timeout=$1
    shift
    local deadline=$((SECONDS + timeout))
    while true; do
        if "$@"; then return 0; fi
        ((SECONDS < deadline)) || fail "timed out after ${timeout}s waiting for: $*"
        sleep 0.5
    done
}

# assert_eq EXPECTED ACTUAL WHAT — fail unless the two strings are equal.
assert_eq() {
    [[ "$1" == "$2" ]] || fail "${3:-value}: expected '$1', got '$2'"
}

# unit_prop UNIT PROP — print a systemd property value (empty if unknown).
unit_prop() {
    systemctl show -p "$2" --value -- "$1"
}

# main_pid UNIT — print the unit's MainPID; fail if it has none (0/empty).
main_pid() {
    local pid
    pid=$(unit_prop "$1" MainPID)
    [[ $pid =~ ^[0-9]+$ && $pid -gt 1 ]] || fail "unit $1 has no main PID (MainPID='$pid')"
    echo "$pid"
}

# safe_kill SIGNAL PID — kill -SIGNAL PID, refusing anything that could hit
# the test itself or the whole system: PID empty/non-numeric/<=1 (kill 0 and
# kill -1 signal process groups / everything), or the test's own pid, its
# parent or its process group.
safe_kill() {
    local sig=$1 pid=${2:-} pgid
    [[ $pid =~ ^[0-9]+$ ]] || fail "safe_kill: refusing non-numeric PID '$pid'"
    ((pid > 1)) || fail "safe_kill: refusing PID $pid"
    pgid=$(ps -o pgid= -p $$ | tr -d ' ')
    if ((pid == $$ || pid == BASHPID || pid == PPID)) || [[ $pid == "$pgid" ]]; then
        fail "safe_kill: refusing to kill the test's own process ($pid)"
    fi
    kill -"${sig#-}" -- "$pid"
}

# cgroup_file UNIT FILE — print /sys/fs/cgroup/<ControlGroup of UNIT>/FILE.
cgroup_file() {
    local cg
    cg=$(unit_prop "$1" ControlGroup)
    [[ -n $cg ]] || fail "unit $1 has no control group (not running?)"
    cat "/sys/fs/cgroup$cg/$2"
}

# wait_unit_active UNIT TIMEOUT_SECONDS — wait until UNIT is active.
wait_unit_active() {
    wait_for "$2" systemctl is-active --quiet -- "$1"
}

# vigil_write_config — write stdin (YAML) to $VIGIL_CONFIG (atomically).
vigil_write_config() {
    mkdir -p "$(dirname "$VIGIL_CONFIG")"
    cat >"$VIGIL_CONFIG.tmp"
    mv -f "$VIGIL_CONFIG.tmp" "$VIGIL_CONFIG"
}

# vigil_reload [TIMEOUT_SECONDS=60] — reload vigild.service and wait until it
# is active again.
vigil_reload() {
    systemctl reload vigild.service || fail "systemctl reload vigild.service failed"
    wait_unit_active vigild.service "${1:-60}"
}

# journal_since_test [JOURNALCTL_ARGS...] — journal entries logged since this
# test sourced lib.sh, e.g. `journal_since_test -u vigild.service`.
journal_since_test() {
    journalctl --no-pager -q -o short-monotonic --since="$_vigil_since" "$@"
}
