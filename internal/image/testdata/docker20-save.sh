#!/bin/sh
# docker20-save.sh OUT: remake docker20-save.tar.gz, the `docker save` archive
# of Docker 20.10 (the format of Docker 1.10 to 24: <v1 id>/layer.tar, <v1 id>/json,
# <v1 id>/VERSION, <image id>.json, manifest.json, repositories) that
# TestLoadDocker20Archive loads. Needs root and Debian's docker.io (dockerd
# 20.10); runs a throw-away dockerd on its own data root and socket.
#
# The images: tiny:base (one layer: hello.txt, etc/passwd), tiny:other (the
# same layer, another config, so the archive holds its layer.tar as a symlink
# to tiny:base's), tiny:child (tiny:base plus a COPY layer). Their IDs and
# diff IDs change with the time stamps: update TestLoadDocker20Archive after
# remaking the file.
set -eu
out=${1:?usage: docker20-save.sh OUT.tar.gz}
dir=$(mktemp -d)
trap 'kill $(cat "$dir/dockerd.pid") 2>/dev/null || true; sleep 2; rm -rf "$dir"' EXIT
echo "{\"deprecated-key-path\": \"$dir/key.json\"}" > "$dir/daemon.json"
dockerd --data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$dir/dockerd.pid" \
	--config-file "$dir/daemon.json" -H "unix://$dir/docker.sock" \
	--bridge=none --iptables=false --ip6tables=false --ip-masq=false --userland-proxy=false \
	--exec-opt native.cgroupdriver=cgroupfs --log-level warn >"$dir/log" 2>&1 &
export DOCKER_HOST="unix://$dir/docker.sock" DOCKER_CONFIG="$dir/cli"
for i in $(seq 50); do docker version >/dev/null 2>&1 && break; sleep 0.2; done
mkdir -p "$dir/base/etc" "$dir/ctx"
printf 'hello\n' > "$dir/base/hello.txt"
printf 'root:x:0:0::/:/bin/sh\n' > "$dir/base/etc/passwd"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$dir/base" -cf "$dir/base.tar" .
docker import -c 'CMD ["/hello.txt"]' "$dir/base.tar" tiny:base
docker import -c 'ENV A=1' -m second "$dir/base.tar" tiny:other
printf 'more\n' > "$dir/ctx/more.txt"
printf 'FROM tiny:base\nCOPY more.txt /more.txt\nLABEL x=y\n' > "$dir/ctx/Dockerfile"
DOCKER_BUILDKIT=0 docker build -q -t tiny:child "$dir/ctx"
docker save tiny:base tiny:other tiny:child | gzip -9 -n > "$out"
docker images --no-trunc tiny
