# shellcheck shell=bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The amd64 package guests past one host (package.sh sources this; issue 32):
# a NIC, sshd and the checks this machine makes over ssh while the guest
# waits (package-remote.sh), and on Debian 13 the journal shipped by
# Debian's own tools to a collector in a network namespace of the same
# guest (checked in the guest: package-ship-guest.sh, package-storm-guest.sh).
#
#   qemu: a virtio NIC on the user network (restrict=on: the guest reaches
#         nothing; this machine reaches its sshd through hostfwd
#         127.0.0.1:PORT -> 10.0.2.15:22)
#   guest: eth0 10.0.2.15/24; on Debian 13 a veth pair gvm-host 10.77.0.1
#         (the host's side) and gvm-collector 10.77.0.2 in the network
#         namespace "collector" (/run/netns/collector), where the packaged
#         systemd-journal-remote.socket listens (NetworkNamespacePath=)
#   keys: made here for each run, in VM_TMP/net (gone with it): an ssh key
#         pair authorized for root and for u501 (UID 501), the guest's host
#         key pinned in a known_hosts file; a CA, the collector's server
#         certificate (IP 10.77.0.2) and the uploader's client certificate,
#         which the collector requires (TrustedCertificateFile=)
#
# Why one guest and a namespace rather than two guests: a second guest is
# a second boot of a minute or more under TCG, twice (the reboot), which the
# vm suite's budget has no room for; a network namespace gives the
# collector an address, routing and a socket of its own, so the upload goes
# through TCP and TLS exactly as between two machines, and journal-remote
# writes its own files (/var/log/journal/remote) that journalctl -D reads
# apart from the host's journal.

# Tools of this machine's: ssh for the checks, openssl for the certificates.
vm_net_tools() {
	vm_need_tools ssh:openssh-client ssh-keygen:openssh-client openssl:openssl python3:python3
}

# A TCP port free on 127.0.0.1 for qemu's hostfwd (the kernel picks it).
vm_free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Writes FILE into the tree with MODE and OWNER (user:group names of the
# tree's own /etc/passwd and /etc/group: its system users' IDs are its own).
vm_net_install() { # tree mode owner source dest
	local tree=$1 uid gid
	uid=$(awk -F: -v u="${3%%:*}" '$1 == u { print $3 }' "$tree/etc/passwd")
	gid=$(awk -F: -v g="${3#*:}" '$1 == g { print $3 }' "$tree/etc/group")
	[ -n "$uid" ] && [ -n "$gid" ] || fail "no user or group $3 in the guest tree"
	mkdir -p "$tree$(dirname "$5")" && install -m "$2" -o "$uid" -g "$gid" "$4" "$tree$5" ||
		fail "cannot install $5 into the guest tree"
}

# The certificates: a CA, the collector's (its address in the name the
# uploader checks), the uploader's (clientAuth: what the collector checks).
vm_net_tls() { # dir
	local d=$1 ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes) n
	{
		openssl req -x509 "${ec[@]}" -keyout "$d/ca.key" -out "$d/ca.crt" -days 3650 \
			-subj /CN=greeter-vm-ca -addext basicConstraints=critical,CA:TRUE \
			-addext keyUsage=critical,keyCertSign,cRLSign &&
			printf 'subjectAltName=IP:10.77.0.2\nextendedKeyUsage=serverAuth\n' >"$d/remote.ext" &&
			printf 'extendedKeyUsage=clientAuth\n' >"$d/upload.ext" &&
			for n in remote upload; do
				openssl req -new "${ec[@]}" -keyout "$d/$n.key" -out "$d/$n.csr" -subj "/CN=greeter-vm-$n" &&
					openssl x509 -req -in "$d/$n.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
						-days 3650 -extfile "$d/$n.ext" -out "$d/$n.crt" || exit 1
			done
	} >"$d/openssl.log" 2>&1 || {
		vm_show "$d/openssl.log"
		fail "cannot make the certificates with openssl"
	}
}

# The tree made ready: the network unit, sshd's keys and users, and on
# Debian 13 (SHIP=1) the collector and the uploader. Sets VM_QEMU_EXTRA,
# VM_NET_PORT, VM_NET_DIR; appends to the guest's "expected".
vm_net_prepare() { # tree ship
	local tree=$1 ship=$2 d u netns=
	d=$VM_TMP/net
	mkdir -p "$d" && chmod 0700 "$d" || fail "cannot create $d"
	VM_NET_DIR=$d
	VM_NET_PORT=$(vm_free_port) || fail "no free TCP port on 127.0.0.1"
	# restrict=on: nothing leaves the guest; the forwarded port comes in.
	# No option ROM (romfile=): the kernel is qemu's -kernel, and iPXE's
	# ROM costs the boot seconds under TCG.
	VM_QEMU_EXTRA=(-netdev "user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:$VM_NET_PORT-:22"
		-device virtio-net-pci,netdev=n0,romfile=)

	# ssh: one key pair, authorized for root and u501; the guest's host
	# key pinned (made when openssh-server was installed in the tree).
	ssh-keygen -q -t ed25519 -N '' -C greeter-vm -f "$d/id" || fail "ssh-keygen failed"
	echo "[127.0.0.1]:$VM_NET_PORT $(cut -d' ' -f1,2 "$tree/etc/ssh/ssh_host_ed25519_key.pub")" >"$d/known_hosts" ||
		fail "the guest tree has no ssh host key"
	cat >"$d/ssh" <<SSH
#!/bin/sh
# ssh to the package guest: its key, its pinned host key, nothing asked.
exec ssh -F none -i "$d/id" -o IdentitiesOnly=yes -o BatchMode=yes \\
	-o UserKnownHostsFile="$d/known_hosts" -o GlobalKnownHostsFile=/dev/null \\
	-o StrictHostKeyChecking=yes -o ConnectTimeout=60 -o ServerAliveInterval=15 "\$@"
SSH
	chmod 0755 "$d/ssh"
	# u501: UID 501, which the checks run programs as (setpriv), with a
	# home for its authorized key; "*": no password, not locked.
	grep -q '^u501:' "$tree/etc/passwd" || {
		echo 'u501:x:501:501:UID 501:/home/u501:/bin/sh' >>"$tree/etc/passwd" &&
			echo 'u501:x:501:' >>"$tree/etc/group" &&
			echo 'u501:*:20000:0:99999:7:::' >>"$tree/etc/shadow"
	} || fail "cannot add u501 to the guest tree"
	for u in root:/root u501:/home/u501; do
		vm_net_install "$tree" 0600 "${u%%:*}:${u%%:*}" "$d/id.pub" "${u#*:}/.ssh/authorized_keys"
		chown "$(awk -F: -v u="${u%%:*}" '$1 == u { print $3 ":" $4 }' "$tree/etc/passwd")" \
			"$tree${u#*:}" "$tree${u#*:}/.ssh" && chmod 0700 "$tree${u#*:}" "$tree${u#*:}/.ssh" ||
			fail "cannot set up ${u#*:} in the guest tree"
	done
	# root in the guest reaches its own sshd too (varlinkctl's ssh
	# addresses, Debian 13): the same key, localhost's host key pinned.
	vm_net_install "$tree" 0600 root:root "$d/id" /root/.ssh/id_ed25519
	echo "localhost $(cut -d' ' -f1,2 "$tree/etc/ssh/ssh_host_ed25519_key.pub")" >"$tree/root/.ssh/known_hosts"
	printf 'Host localhost\n\tBatchMode yes\n\tIdentitiesOnly yes\n\tIdentityFile ~/.ssh/id_ed25519\n' \
		>"$tree/root/.ssh/config"
	printf 'PasswordAuthentication no\nKbdInteractiveAuthentication no\nUseDNS no\n' \
		>"$tree/etc/ssh/sshd_config.d/gvm.conf"
	# (debootstrap's minbase has no /etc/hosts: "localhost" would not resolve.)
	[ -s "$tree/etc/hosts" ] || printf '127.0.0.1\tlocalhost\n127.0.1.1\tgreeter-vm\n::1\tlocalhost ip6-localhost\n' \
		>"$tree/etc/hosts"

	# The network, by hand: systemd-networkd configures a link only once
	# udev has seen it (where /sys is writable), and these guests run no
	# udev.
	[ "$ship" = 1 ] && netns=collector
	cat >"$VM_SYSTEMD_DIR/net-up.sh" <<'NET'
#!/bin/sh
# eth0 for sshd (qemu's user network: 10.0.2.15, the host 10.0.2.2); with
# an argument, the collector's network namespace and a veth pair into it.
set -e
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
[ -n "${1:-}" ] || exit 0
ip netns add "$1"
ip link add gvm-host type veth peer name gvm-collector netns "$1"
ip addr add 10.77.0.1/24 dev gvm-host
ip link set gvm-host up
ip -n "$1" link set lo up
ip -n "$1" addr add 10.77.0.2/24 dev gvm-collector
ip -n "$1" link set gvm-collector up
NET
	chmod 0755 "$VM_SYSTEMD_DIR/net-up.sh"
	cat >"$tree/etc/systemd/system/gvm-net.service" <<UNIT
[Unit]
Description=greeter VM test: eth0${netns:+ and the collector network namespace}
DefaultDependencies=no
After=local-fs.target
Before=network.target ssh.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/lib/greeter-vm/net-up.sh $netns
UNIT
	ln -s ../gvm-net.service "$tree/etc/systemd/system/multi-user.target.wants/" || fail "cannot enable gvm-net.service"
	{
		echo "NET=1"
		echo "SHIP=$ship"
	} >>"$VM_SYSTEMD_DIR/expected"
	[ "$ship" = 1 ] || return 0

	# ---- Debian 13: the journal shipped (package-ship-guest.sh checks it).
	vm_net_tls "$d"
	vm_net_install "$tree" 0644 root:root "$d/ca.crt" /etc/greeter-vm/tls/ca.crt
	vm_net_install "$tree" 0644 root:root "$d/remote.crt" /etc/greeter-vm/tls/remote.crt
	vm_net_install "$tree" 0644 root:root "$d/upload.crt" /etc/greeter-vm/tls/upload.crt
	# Each key readable by its daemon alone: journal-remote runs as its
	# system user; journal-upload as a dynamic user in the group
	# systemd-journal (its unit's SupplementaryGroups=).
	vm_net_install "$tree" 0640 root:systemd-journal-remote "$d/remote.key" /etc/greeter-vm/tls/remote.key
	vm_net_install "$tree" 0640 root:systemd-journal "$d/upload.key" /etc/greeter-vm/tls/upload.key
	mkdir -p "$tree/etc/systemd/journal-remote.conf.d" "$tree/etc/systemd/journal-upload.conf.d" \
		"$tree/etc/systemd/system/systemd-journal-remote.socket.d" \
		"$tree/etc/systemd/system/systemd-journal-remote.service.d" \
		"$tree/etc/systemd/system/systemd-journal-upload.service.d" "$tree/etc/systemd/system/sockets.target.wants"
	# (TrustedCertificateFile= for the collector too, as on a system whose
	# journal-remote can check clients: Debian's ignores it, see README.md.)
	cat >"$tree/etc/systemd/journal-remote.conf.d/gvm.conf" <<'CONF'
[Remote]
ServerKeyFile=/etc/greeter-vm/tls/remote.key
ServerCertificateFile=/etc/greeter-vm/tls/remote.crt
TrustedCertificateFile=/etc/greeter-vm/tls/ca.crt
CONF
	cat >"$tree/etc/systemd/journal-upload.conf.d/gvm.conf" <<'CONF'
[Upload]
URL=https://10.77.0.2:19532
ServerKeyFile=/etc/greeter-vm/tls/upload.key
ServerCertificateFile=/etc/greeter-vm/tls/upload.crt
TrustedCertificateFile=/etc/greeter-vm/tls/ca.crt
CONF
	# The packaged collector units, in the namespace.
	for u in Socket Service; do
		cat >"$tree/etc/systemd/system/systemd-journal-remote.${u,}.d/gvm.conf" <<UNIT
# The collector in its own network namespace (gvm-net.service makes it).
[Unit]
Requires=gvm-net.service
After=gvm-net.service

[$u]
NetworkNamespacePath=/run/netns/collector
UNIT
	done
	# The packaged uploader (Debian 13: Restart=on-failure, RestartSteps=10
	# up to RestartMaxDelaySec=60, and the default start limit of 5 starts
	# in 10 s): while the collector is away, each start fails at once, the
	# first restarts come within 10 s, and the unit ends "failed" for good;
	# nothing uploads when the collector is back. Restart=always, every 2
	# s, with no start limit, resumes within seconds of the collector's
	# return, from the cursor --save-state keeps.
	# (After= the collector: in one guest, the uploader stops first at
	# shutdown, as a host's would while its collector runs on elsewhere;
	# else the collector may be gone in the middle of the last upload.)
	cat >"$tree/etc/systemd/system/systemd-journal-upload.service.d/gvm.conf" <<'UNIT'
# Resume whenever the collector comes back (tests/vm/package-net.sh: why).
[Unit]
After=gvm-net.service systemd-journal-remote.socket systemd-journal-remote.service
StartLimitIntervalSec=0

[Service]
Restart=always
RestartSec=2s
RestartSteps=0
RestartMaxDelaySec=
UNIT
	ln -s /usr/lib/systemd/system/systemd-journal-remote.socket "$tree/etc/systemd/system/sockets.target.wants/" &&
		ln -s /usr/lib/systemd/system/systemd-journal-upload.service "$tree/etc/systemd/system/multi-user.target.wants/" ||
		fail "cannot enable the collector's socket and the uploader"
	# A persistent journal: what the uploader resumes from after a reboot.
	mkdir -p "$tree/var/log/journal"
	# Room for the storm's entries under journald's default limits (10% of
	# the file system for the journal): 2 GB free.
	VM_IMAGE_FREE_MB=2048
}

# The checks made from this machine (package-remote.sh), in the
# background while boot 1 runs: it waits for the guest's word on the
# console, checks, and lets the guest go on.
vm_net_start_host_checks() { # greeterctl release
	VM_NET_RESULTS=$VM_TMP/net/host-checks.tap
	: >"$VM_NET_RESULTS"
	SAY_T0=$SAY_T0 bash "$(dirname "${BASH_SOURCE[0]}")/package-remote.sh" "$VM_TMP/console-boot1.log" \
		"$VM_NET_PORT" "$VM_NET_DIR" "$1" "$2" >"$VM_NET_RESULTS" 2>&1 &
	VM_NET_JOB=$!
	VM_AFTER_BOOT=vm_net_after_boot
}

# After boot 1: the host's checks, reported as this suite's; any not ok, or
# none at all, fails the suite.
vm_net_after_boot() { # phase
	[ "$1" = 1 ] || return 0
	# (The guest ended: the job ends at its next look, if still waiting.)
	touch "$VM_NET_DIR/guest-ended"
	wait "$VM_NET_JOB"
	say "checks from this machine over ssh (package-remote.sh):"
	sed 's/^/    host: /' "$VM_NET_RESULTS"
	grep -q '^ok ' "$VM_NET_RESULTS" && ! grep -q '^not ok ' "$VM_NET_RESULTS" &&
		grep -q '^# host checks done' "$VM_NET_RESULTS"
}
