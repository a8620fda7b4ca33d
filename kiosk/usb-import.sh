#!/bin/sh
# Mounts USB partition $1 read-only, imports its BANGTIN/ folder (if any) into the board's drop folder, unmounts.
# The stick is never written to: a clerk can pull it out at any time after the import line appears in the log.
set -eu
device="/dev/$1"
mountpoint="/run/signage/usb-$1"
config="${SIGNAGE_CONFIG:-/etc/signage/board.toml}"
signage="${SIGNAGE_BIN:-/opt/signage/.venv/bin/signage}"

mkdir -p "$mountpoint"
mount -o ro,nosuid,nodev,noexec "$device" "$mountpoint"
trap 'umount "$mountpoint" 2>/dev/null; rmdir "$mountpoint" 2>/dev/null' EXIT
for folder in BANGTIN bangtin BangTin; do
    if [ -d "$mountpoint/$folder" ]; then
        runuser -u signage -- "$signage" import "$mountpoint/$folder" --config "$config"
        exit 0
    fi
done
echo "signage-usb-import: $device has no BANGTIN folder; nothing imported"
