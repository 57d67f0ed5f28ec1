#!/bin/bash
# Who may do what: any user may read (status, events, logs, a reload dry run); changing
# anything takes root or membership in the group vigil (created by the package). An
# unprivileged user gets exit 5 and nothing stops; a member of vigil can stop.
# vm-timeout: 300
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

getent group vigil >/dev/null || fail "the package did not create the group vigil"
id vigiltest >/dev/null 2>&1 || useradd --create-home --shell /bin/bash vigiltest
id vigilop >/dev/null 2>&1 || useradd --create-home --shell /bin/bash --groups vigil vigilop
vigil_start_ctl_tree 3
as() { local user=$1; shift; runuser -u "$user" -- "$@"; }

as vigiltest vigilctl status >/tmp/user-status.txt || fail "an unprivileged user cannot run status"
grep -q "w@1" /tmp/user-status.txt || fail "status as an unprivileged user shows no workers"
as vigiltest vigilctl reload --dry-run >/dev/null || fail "an unprivileged user cannot run a dry run"
pid=$(main_pid vigil-app-a.service)
rc=0
as vigiltest vigilctl stop app/a 2>/tmp/user-stop.txt || rc=$?
cat /tmp/user-stop.txt
assert_eq 5 "$rc" "exit status of stop as an unprivileged user"
grep -q "may not change vigil" /tmp/user-stop.txt || fail "no permission message"
rc=0
as vigiltest vigilctl set app/a memory_max=64M 2>/dev/null || rc=$?
assert_eq 5 "$rc" "exit status of set as an unprivileged user"
rc=0
as vigiltest vigilctl reload 2>/dev/null || rc=$?
assert_eq 5 "$rc" "exit status of reload as an unprivileged user"
sleep 2
assert_eq "$pid" "$(main_pid vigil-app-a.service)" "a after the refused stop"
assert_eq max "$(cgroup_file vigil-app-a.service memory.max)" "memory.max after the refused set"
pass_step "an unprivileged user reads, and gets exit 5 for changes; nothing changed"

# The journal hides other units' entries from a user outside systemd-journal/adm: vigilctl
# says so instead of printing nothing; root and members of adm get no hint.
as vigiltest vigilctl logs app/a -n 5 >/dev/null 2>/tmp/user-logs.err || fail "logs as an unprivileged user failed"
cat /tmp/user-logs.err
grep -q "hint: you may not read the system journal" /tmp/user-logs.err || fail "no journal access hint for an unprivileged user"
vigilctl logs app/a -n 5 >/dev/null 2>/tmp/root-logs.err
assert_eq "" "$(cat /tmp/root-logs.err)" "stderr of logs as root"
id vigiladm >/dev/null 2>&1 || useradd --create-home --shell /bin/bash --groups adm vigiladm
as vigiladm vigilctl logs app/a -n 5 >/tmp/adm-logs.txt 2>/tmp/adm-logs.err || fail "logs as a member of adm failed"
assert_eq "" "$(cat /tmp/adm-logs.err)" "stderr of logs as a member of adm"
grep -q "hello from" /tmp/adm-logs.txt || fail "a member of adm does not see the worker's output"
pass_step "journal access hint for users who cannot read the journal, none for those who can"

as vigilop vigilctl stop app/a || fail "a member of group vigil cannot stop"
assert_eq inactive "$(unit_prop vigil-app-a.service ActiveState)" "a after the member's stop"
journal_since_test _SYSTEMD_UNIT=vigild.service VIGIL_EVENT=worker-stopped -o cat | grep -q "stopped by operator (uid $(id -u vigilop))" ||
    fail "the stop event does not name the member's uid"
as vigilop vigilctl start app/a || fail "a member of group vigil cannot start"
wait_unit_active vigil-app-a.service 30
pass_step "a member of group vigil can stop and start; the events name the uid"
