#!/bin/sh
# install-deps.sh: install what building and testing gorae needs, from
# Debian's packages, only when something is missing. Idempotent and quick
# when all is there.
set -eu
need=""
command -v busybox >/dev/null 2>&1 && busybox --list >/dev/null 2>&1 || need="$need busybox-static"
command -v ip >/dev/null 2>&1 || need="$need iproute2"
command -v ps >/dev/null 2>&1 || need="$need procps"
# nft: network tests check (and clean) the rules the daemon writes.
command -v nft >/dev/null 2>&1 || need="$need nftables"
command -v go >/dev/null 2>&1 || [ -x /usr/local/go/bin/go ] || need="$need golang-go"
# Judges of compatibility the tests run: skopeo reads and writes our image
# archives; xz and bzip2 make compressed import inputs.
command -v skopeo >/dev/null 2>&1 || need="$need skopeo"
command -v xz >/dev/null 2>&1 || need="$need xz-utils"
command -v bzip2 >/dev/null 2>&1 || need="$need bzip2"
# runc: the e2e suite runs containers with it too (--runtime runc).
command -v runc >/dev/null 2>&1 || need="$need runc"
# docker-registry (distribution 2.8): pull/push interoperability tests.
command -v docker-registry >/dev/null 2>&1 || need="$need docker-registry"
# tmux: test/cli drives `gorae run -it` and `exec -it` through a terminal.
command -v tmux >/dev/null 2>&1 || need="$need tmux"
if [ -n "$need" ]; then
	echo "install-deps: installing$need"
	if [ "$(id -u)" != 0 ]; then
		echo "install-deps: need root to apt-get install$need" >&2
		exit 1
	fi
	apt-get update -q >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q $need >/dev/null
fi
