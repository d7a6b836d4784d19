#!/usr/bin/env bash
# Installs Mesa's software Vulkan driver (lavapipe) so onnxruntime-node's WebGPU provider runs without a GPU.
# Dawn rejects Mesa 22.3 (plain bookworm); Mesa >= 25 comes from bookworm-backports. Idempotent: safe to rerun.
# Source it (`. .ci/install-vulkan.sh`) to keep the XDG_RUNTIME_DIR export; running it installs only.
set -euo pipefail
mesa_ok() {
  local v
  v=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
  [ -n "$v" ] && dpkg --compare-versions "$v" ge 25 && dpkg-query -W libvulkan1 >/dev/null 2>&1
}
if ! mesa_ok; then
  if [ "$(id -u)" != 0 ]; then echo "install-vulkan: needs root to apt-get install mesa-vulkan-drivers" >&2; exit 1; fi
  bp=/etc/apt/sources.list.d/bookworm-backports.sources
  if [ ! -f "$bp" ] && ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    # Same mirror as the main archive: the first stanza of debian.sources with its suite replaced.
    sed -e 's/^Suites: .*/Suites: bookworm-backports/' -e '/^$/q' /etc/apt/sources.list.d/debian.sources > "$bp"
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null
fi
echo "install-vulkan: mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)"
# Dawn's Vulkan loader wants a runtime directory; CI containers often have none.
if [ -z "${XDG_RUNTIME_DIR:-}" ] || [ ! -d "${XDG_RUNTIME_DIR}" ]; then
  XDG_RUNTIME_DIR=$(mktemp -d /tmp/xdg-runtime.XXXXXX); chmod 700 "$XDG_RUNTIME_DIR"
fi
export XDG_RUNTIME_DIR
