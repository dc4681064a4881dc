#!/bin/sh
# demo.sh: the main job until the engine exists: a busybox container from a
# bundle made from Debian's busybox-static, run by `gorae runtime run`.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
gorae=${GORAE:-$top/bin/gorae}
work=${DEMO_DIR:-/tmp/gorae-demo}
rm -rf "$work"
mkdir -p "$work"
"$top/scripts/busybox-rootfs.sh" "$work/rootfs"
cd "$work"
"$gorae" runtime spec
# A non-interactive variant of the default spec: no terminal, a command
# that shows the isolation.
sed -i -e 's/"terminal": true/"terminal": false/' \
	-e 's#"sh"#"sh", "-c", "echo hello from gorae: pid $$ on $(hostname), $(cat /proc/self/mountinfo | wc -l) mounts, uid $(id -u)"#' config.json
"$gorae" runtime --root "$work/state" run --bundle "$work" demo-$$
