#!/usr/bin/env bash
# Fetches what the kernel lab (lab/) boots, only when something is missing:
#   - qemu-system-x86 (installed with apt-get),
#   - a Debian 6.1 kernel image and the modules of a RAM-disk ext2
#     (downloaded with apt-get download and extracted, not installed),
#   - a static busybox (downloaded and extracted, not installed).
# Cache: lab/.assets (git-ignored), or $LAB_ASSETS. Safe to run again.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${LAB_ASSETS:-$root/lab/.assets}
mods=(crc16 mbcache jbd2 crc32c_generic ext4 brd)
mkdir -p "$dir"

updated=0
apt_update() {
  if [ $updated = 0 ]; then
    apt-get update -qq
    updated=1
  fi
}
export DEBIAN_FRONTEND=noninteractive

if ! command -v qemu-system-x86_64 >/dev/null; then
  echo "lab-assets: installing qemu-system-x86"
  apt_update
  apt-get install -y -qq --no-install-recommends qemu-system-x86 >/dev/null
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"

# download PKG: fetches PKG's .deb into $work and prints its path.
download() {
  (cd "$work" && apt-get download -qq "$1" 2>/dev/null) || { apt_update; (cd "$work" && apt-get download -qq "$1"); }
  ls "$work"/"$1"_*.deb
}

if [ ! -x "$dir/busybox" ]; then
  echo "lab-assets: fetching busybox-static"
  deb=$(download busybox-static)
  dpkg-deb -x "$deb" "$work/busybox"
  install -m 755 "$work/busybox/bin/busybox" "$dir/busybox"
fi

have_kernel=1
[ -f "$dir/vmlinuz" ] || have_kernel=0
for m in "${mods[@]}"; do [ -f "$dir/modules/$m.ko" ] || have_kernel=0; done
if [ $have_kernel = 0 ]; then
  # The newest 6.1 kernel the archive has (the lab targets cgroup v1 on 6.1).
  pkg=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' | awk '{print $1}' | sort -V | tail -1)
  if [ -z "$pkg" ]; then
    apt_update
    pkg=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' | awk '{print $1}' | sort -V | tail -1)
  fi
  [ -n "$pkg" ] || { echo "lab-assets: no linux-image-6.1.0-*-amd64 package in the apt sources" >&2; exit 1; }
  echo "lab-assets: fetching $pkg (kernel image and ${#mods[@]} modules)"
  deb=$(download "$pkg")
  mkdir -p "$work/k" "$dir/modules"
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work/k" --wildcards './boot/vmlinuz-*' './lib/modules/*/kernel/*.ko'
  install -m 644 "$work"/k/boot/vmlinuz-* "$dir/vmlinuz"
  basename "$work"/k/boot/vmlinuz-* | sed 's/^vmlinuz-//' >"$dir/kernel-release"
  for m in "${mods[@]}"; do
    f=$(find "$work/k/lib/modules" -name "$m.ko" | head -1)
    [ -n "$f" ] || { echo "lab-assets: module $m.ko not in $pkg" >&2; exit 1; }
    install -m 644 "$f" "$dir/modules/$m.ko"
  done
fi
echo "lab-assets: ready in $dir (kernel $(cat "$dir/kernel-release"))"
