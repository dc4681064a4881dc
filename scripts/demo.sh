#!/bin/sh
# demo.sh: the main job: `gorae run --rm busybox echo hello` on the engine.
# The first gorae command starts the daemon when none answers (as root);
# a busybox image is made from the host's busybox-static when there is none
# (nothing is downloaded). GORAE_HOST and GORAE_DAEMON_FLAGS point it at
# other roots (tests do; see docs/cli.md).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
gorae=${GORAE:-$top/bin/gorae}
"$gorae" version --format 'gorae {{.Client.Version}}: engine {{.Server.Version}} on {{.Server.Os}}/{{.Server.Arch}}'
if ! "$gorae" image inspect --format '{{.Id}}' busybox >/dev/null 2>&1; then
	work=$(mktemp -d /tmp/gorae-demo-XXXXXX)
	trap 'rm -rf "$work"' EXIT
	"$top/scripts/busybox-rootfs.sh" "$work/rootfs"
	echo "demo: no busybox image; importing one made from $(command -v busybox)"
	tar -C "$work/rootfs" -c . | "$gorae" import -c 'CMD ["sh"]' - busybox >/dev/null
fi
"$gorae" run --rm busybox echo hello
