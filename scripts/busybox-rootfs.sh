#!/bin/sh
# busybox-rootfs.sh DIR: make a minimal root filesystem in DIR from the host's
# static busybox (Debian's busybox-static), hermetically: nothing is downloaded.
set -eu
dir=${1:?usage: busybox-rootfs.sh DIR}
bb=$(command -v busybox || true)
[ -n "$bb" ] || { echo "busybox-rootfs.sh: no busybox on PATH (apt-get install busybox-static)" >&2; exit 1; }
if ! file -L "$bb" 2>/dev/null | grep -q 'statically linked' && ldd "$bb" >/dev/null 2>&1; then
	echo "busybox-rootfs.sh: $bb is dynamically linked; install busybox-static" >&2; exit 1
fi
mkdir -p "$dir/bin" "$dir/etc" "$dir/proc" "$dir/sys" "$dir/dev" "$dir/tmp" "$dir/root" "$dir/var" "$dir/usr"
chmod 1777 "$dir/tmp"
cp "$bb" "$dir/bin/busybox"
for app in $("$dir/bin/busybox" --list); do
	[ "$app" = busybox ] || ln -sf busybox "$dir/bin/$app"
done
ln -sfn bin "$dir/sbin"
ln -sfn ../bin "$dir/usr/bin"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$dir/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$dir/etc/group"
