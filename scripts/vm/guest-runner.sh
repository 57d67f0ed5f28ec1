#!/bin/bash
# scripts/vm/guest-runner.sh — runs INSIDE the test VM as
# vigil-test-runner.service (installed by scripts/vm/run-tests).
#
# Layout prepared by run-tests under /opt/vigil-test/:
#   run.env       TEST_TIMEOUT_DEFAULT=<s>
#   tests.list    test file names to run, in order (one per line)
#   tests/        the test directory (tests, lib.sh, fixtures)
#   *.deb         packages installed with `dpkg -i` before any test
#
# Protocol (host side parses it; see run-tests):
#   @@VIGIL-RUNNER-START uptime=<s>s
#   @@VIGIL-START <name> timeout=<s>s
#   @@VIGIL-RESULT PASS <name> <dur>s
#   @@VIGIL-RESULT FAIL <name> <dur>s <reason>     reason: exit=N | timeout=Ns | dpkg-failed
#   @@VIGIL-OUTPUT-BEGIN <name> / "  | <line>"... / @@VIGIL-OUTPUT-END <name>
#   @@VIGIL-JOURNAL-BEGIN <name> / "  | <line>"... / @@VIGIL-JOURNAL-END <name>
#                 (journal entries logged while the failed test ran, last 60)
#   @@VIGIL-DONE
# Protocol lines go to /dev/ttyS1 (a channel nothing else writes to, so kernel
# or systemd console messages cannot garble them) AND to the console
# /dev/ttyS0 (the human-readable log), which also gets the live test output
# prefixed with "[<name>] ".
set -uo pipefail

BASE=/opt/vigil-test
OUT_DIR=$BASE/out
EXCERPT_LINES=40
JOURNAL_LINES=60

# Whatever happens from here on, the VM must power off.
poweroff_vm() {
    sleep 1 # let the serial ports drain
    systemctl --no-block poweroff || systemctl --force --force poweroff
}
trap poweroff_vm EXIT

exec </dev/null
exec >/dev/ttyS0 2>&1 || exec >/dev/console 2>&1
exec 3>/dev/ttyS1 || exec 3>/dev/null

emit() { printf '%s\n' "$*" >&3; printf '%s\n' "$*"; }
emit_framed() { # KIND NAME < lines
    local kind=$1 name=$2 line
    emit "@@VIGIL-$kind-BEGIN $name"
    while IFS= read -r line || [[ -n $line ]]; do
        emit "  | $line"
    done
    emit "@@VIGIL-$kind-END $name"
}
now() { date +%s; }
journal_cursor() { journalctl -q -n 0 --show-cursor 2>/dev/null | sed -n 's/^-- cursor: //p'; }

# Per-test timeout: a line "# vm-timeout: N" in the test file, else default.
test_timeout() {
    local t
    t=$(sed -n -E 's/^#[[:space:]]*vm-timeout:[[:space:]]*([0-9]+)[[:space:]]*$/\1/p' "$1" | head -n1)
    echo "${t:-$TEST_TIMEOUT_DEFAULT}"
}

TEST_TIMEOUT_DEFAULT=300
# shellcheck source=/dev/null
[[ -f $BASE/run.env ]] && . "$BASE/run.env"
mapfile -t TESTS < <(grep -v '^[[:space:]]*$' "$BASE/tests.list" 2>/dev/null)
mkdir -p "$OUT_DIR"

emit "@@VIGIL-RUNNER-START uptime=$(cut -d' ' -f1 /proc/uptime)s"
echo "runner: kernel $(uname -r), $(systemctl --version | head -n1)"
echo "runner: multi-user.target is $(systemctl is-active multi-user.target)," \
    "system state $(systemctl is-system-running 2>/dev/null)"

# ---- install the package(s) under test -----------------------------------
dpkg_ok=1
shopt -s nullglob
debs=("$BASE"/*.deb)
if ((${#debs[@]} == 0)); then
    echo "runner: no .deb in $BASE" >"$OUT_DIR/dpkg.log"
    dpkg_ok=0
else
    echo "runner: dpkg -i ${debs[*]##*/}"
    if ! dpkg -i "${debs[@]}" >"$OUT_DIR/dpkg.log" 2>&1; then
        dpkg_ok=0
    fi
    sed 's/^/[dpkg] /' "$OUT_DIR/dpkg.log"
fi

if ((!dpkg_ok)); then
    for t in "${TESTS[@]}"; do
        name=${t%.sh}
        emit "@@VIGIL-RESULT FAIL $name 0s dpkg-failed"
        tail -n "$EXCERPT_LINES" "$OUT_DIR/dpkg.log" | emit_framed OUTPUT "$name"
    done
    emit "@@VIGIL-DONE"
    exit 0
fi

# ---- run the tests ---------------------------------------------------------
for t in "${TESTS[@]}"; do
    name=${t%.sh}
    file=$BASE/tests/$t
    out=$OUT_DIR/$name.log
    timeout_s=$(test_timeout "$file")
    emit "@@VIGIL-START $name timeout=${timeout_s}s"
    start=$(now)
    cursor=$(journal_cursor)

    # `timeout` puts the test in its own process group and, on expiry, kills
    # the whole group (the test and its background children), so neither a
    # hung test nor a stray `kill 0` inside it can take the runner down.
    : >"$out"
    (cd "$BASE/tests" && exec env VIGIL_TEST_NAME="$name" VIGIL_TEST_TIMEOUT="$timeout_s" \
        timeout --kill-after=10 "$timeout_s" bash "$file") </dev/null >"$out" 2>&1 &
    tpid=$!
    tail -n +1 -f --pid="$tpid" "$out" 2>/dev/null | sed -u "s/^/[$name] /" &
    spid=$!
    wait "$tpid"
    rc=$?
    wait "$spid" 2>/dev/null
    dur=$(($(now) - start))

    if ((rc == 0)); then
        emit "@@VIGIL-RESULT PASS $name ${dur}s"
        continue
    fi
    if ((rc == 124 || rc == 137)) && ((dur >= timeout_s)); then
        reason="timeout=${timeout_s}s"
    else
        reason="exit=$rc"
    fi
    emit "@@VIGIL-RESULT FAIL $name ${dur}s $reason"
    tail -n "$EXCERPT_LINES" "$out" | emit_framed OUTPUT "$name"
    # Only what was logged while this test ran (the boot is the same for all).
    if [[ -n $cursor ]]; then
        jargs=(--after-cursor="$cursor")
    else
        jargs=(--since="@$start")
    fi
    # The last lines (what led to the failure): with --after-cursor, journalctl's -n keeps
    # the first N instead, which for a hang shows only its harmless start.
    journalctl -b --no-pager -q -o short-monotonic "${jargs[@]}" 2>&1 | tail -n "$JOURNAL_LINES" \
        >"$OUT_DIR/$name.journal"
    [[ -s $OUT_DIR/$name.journal ]] || echo "(nothing logged while the test ran)" >"$OUT_DIR/$name.journal"
    emit_framed JOURNAL "$name" <"$OUT_DIR/$name.journal"
done

emit "@@VIGIL-DONE"
