#!/bin/sh
# build.sh OUT [VERSION]: the gorae binary that ships. The engine
# (cmd/gorae), the per-container monitor (cmd/gorae-shim) and the
# container's init (cmd/gorae-init) are built first and embedded in the
# small front (cmd/gorae-front) that runs the OCI
# runtime itself and execs the engine for everything else; see
# cmd/gorae-front/main.go for why.
set -eu
out=$1
version=${2:-dev}
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export CGO_ENABLED=0
go build -trimpath -ldflags "-s -w -X main.version=$version" -o "$tmp/engine" ./cmd/gorae
go build -trimpath -ldflags "-s -w" -o "$tmp/shim" ./cmd/gorae-shim
# On amd64 the init starts at its own entry point (cmd/gorae-init/entry_amd64.s),
# which joins an existing user namespace before Go's runtime starts threads.
initentry=
if [ "$(go env GOARCH)" = amd64 ]; then initentry="-E main.entry"; fi
go build -trimpath -ldflags "-s -w $initentry" -o "$tmp/init" ./cmd/gorae-init
digest=$(sha256sum "$tmp/engine" | cut -c1-64)
shimdigest=$(sha256sum "$tmp/shim" | cut -c1-64)
initdigest=$(sha256sum "$tmp/init" | cut -c1-64)
front=$(pwd)/cmd/gorae-front
printf '{"Replace":{"%s/engine.bin":"%s/engine","%s/shim.bin":"%s/shim","%s/init.bin":"%s/init"}}\n' "$front" "$tmp" "$front" "$tmp" "$front" "$tmp" >"$tmp/overlay.json"
go build -trimpath -overlay "$tmp/overlay.json" -tags embedengine \
	-ldflags "-s -w -X main.version=$version -X main.engineDigest=$digest -X main.shimDigest=$shimdigest -X main.initDigest=$initdigest" -o "$out" ./cmd/gorae-front
