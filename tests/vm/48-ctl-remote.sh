#!/bin/bash
# vigilctl -H root@localhost talks to vigild over SSH exactly as systemctl -H does (the
# remote system bus through systemd-stdio-bridge); logs and events work remotely too.
# vm-timeout: 300
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

vigil_start_ctl_tree 3
systemctl start ssh.service || fail "sshd does not start"
mkdir -p /root/.ssh
chmod 700 /root/.ssh
[[ -f /root/.ssh/id_ed25519 ]] || ssh-keygen -q -t ed25519 -N '' -f /root/.ssh/id_ed25519
cat /root/.ssh/id_ed25519.pub >>/root/.ssh/authorized_keys
chmod 600 /root/.ssh/authorized_keys
ssh-keyscan -H localhost >>/root/.ssh/known_hosts 2>/dev/null
ssh -o BatchMode=yes root@localhost true || fail "ssh root@localhost does not work"

ctl_expect 0 -H root@localhost status --json
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert len(d["workers"]) == 6, d' "$ctl_out" || fail "remote status --json"
ctl_expect 0 status -H root@localhost
grep -q "w@2" <<<"$ctl_out" || fail "remote status: $ctl_out"
pid=$(main_pid vigil-app-w@3.service)
ctl_expect 0 -H root@localhost restart app/w@3
wait_pid_changes vigil-app-w@3.service "$pid" 30
pass_step "-H root@localhost: status and restart over SSH"

ctl_expect 0 -H root@localhost logs app/w@1 -n 5
grep -q "hello from w1" <<<"$ctl_out" || fail "remote logs: $ctl_out"
ctl_expect 0 -H root@localhost events app -n 20
grep -q "operator-command" <<<"$ctl_out" || fail "remote events: $ctl_out"
ctl_expect 4 -H root@localhost stop app/nope
ctl_expect 3 -H root@nonexistent.invalid status
pass_step "logs and events over -H; errors keep their exit codes"
