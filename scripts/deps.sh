#!/usr/bin/env bash
# Installs the Debian packages the tests use, only when something is missing.
set -euo pipefail
need=()
command -v sshd >/dev/null || [ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh-keygen >/dev/null || need+=(openssh-client)
command -v sudo >/dev/null || need+=(sudo)
command -v pgrep >/dev/null || need+=(procps)
command -v chromium >/dev/null || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  echo "deps: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The kernel lab's QEMU, Debian kernel and static busybox (cached under lab/.assets).
"$(dirname "$0")/lab-assets.sh"
