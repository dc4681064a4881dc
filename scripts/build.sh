#!/bin/sh
# build.sh OUT [VERSION]: the gorae binary that ships. The engine
# (cmd/gorae) is built first and embedded in the small front
# (cmd/gorae-front) that runs the OCI runtime itself and execs the engine
# for everything else; see cmd/gorae-front/main.go for why.
set -eu
out=$1
version=${2:-dev}
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export CGO_ENABLED=0
go build -trimpath -ldflags "-s -w -X main.version=$version" -o "$tmp/engine" ./cmd/gorae
digest=$(sha256sum "$tmp/engine" | cut -c1-64)
printf '{"Replace":{"%s/cmd/gorae-front/engine.bin":"%s/engine"}}\n' "$(pwd)" "$tmp" >"$tmp/overlay.json"
go build -trimpath -overlay "$tmp/overlay.json" -tags embedengine \
	-ldflags "-s -w -X main.version=$version -X main.engineDigest=$digest" -o "$out" ./cmd/gorae-front
