#!/usr/bin/env bash
# make-base-image.sh — provide the base image "debian:bookworm-slim" to Podman
# on machines that cannot pull from a container registry: debootstrap
# --variant=minbase bookworm into a temporary directory, then import that tree
# with `podman import`. Does nothing when the image already exists.
#
#   scripts/make-base-image.sh            (root; needs podman and debootstrap)
#
# Environment:
#   BASE_IMAGE     image name to create (default debian:bookworm-slim)
#   DEBIAN_MIRROR  Debian mirror URL (default: the first Debian mirror of this
#                  machine's apt sources, which is known to be reachable)
#   FORCE=1        rebuild even when the image exists
set -euo pipefail

image=${BASE_IMAGE:-debian:bookworm-slim}

log() { printf 'make-base-image: %s\n' "$*" >&2; }

if [ "${FORCE:-0}" != 1 ] && podman image exists "$image"; then
    log "$image exists (FORCE=1 rebuilds it)"
    exit 0
fi
[ "$(id -u)" = 0 ] || { log "must run as root (debootstrap, podman import)"; exit 1; }
command -v debootstrap >/dev/null || { log "debootstrap is missing (apt-get install debootstrap)"; exit 1; }

# The mirror apt already uses here: deb822 "URIs:" lines or one-line "deb URL
# SUITE" entries; the first one whose suites include bookworm (not -security).
apt_mirror() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk '
            /^[[:space:]]*$/ { if (uri != "" && suites ~ /(^| )bookworm( |$)/ && !found) { print uri; found = 1 } uri = ""; suites = ""; next }
            /^URIs:/   { uri = $2 }
            /^Suites:/ { $1 = ""; suites = $0 " " }
            END { if (uri != "" && suites ~ /(^| )bookworm( |$)/ && !found) print uri }
        ' "$f"
    done
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
        awk '$1 == "deb" && $3 == "bookworm" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; break } }'
    return 0
}
mirror=${DEBIAN_MIRROR:-$( (apt_mirror || true) | head -1)}
[ -n "$mirror" ] || { log "no Debian bookworm mirror in the apt sources; set DEBIAN_MIRROR"; exit 1; }

root=$(mktemp -d "${TMPDIR:-/var/tmp}/featd-rootfs.XXXXXX")
trap 'rm -rf "$root"' EXIT
log "debootstrap --variant=minbase bookworm from $mirror (a few minutes)"
start=$(date +%s)
if ! debootstrap --variant=minbase bookworm "$root" "$mirror" > "$root.log" 2>&1; then
    tail -30 "$root.log" >&2
    rm -f "$root.log"
    log "debootstrap failed"
    exit 1
fi
rm -f "$root.log"

# What the official slim image does too: bookworm-updates in the sources, no
# caches, no apt lists, no docs or man pages.
printf 'deb %s bookworm main\ndeb %s bookworm-updates main\n' "$mirror" "$mirror" > "$root/etc/apt/sources.list"
cat > "$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
EOF
cat > "$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
APT::Install-Recommends "false";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
EOF
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/* \
       "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/log/*.log \
       "$root"/tmp/*
: > "$root/etc/machine-id" 2>/dev/null || true

tar --numeric-owner -C "$root" -c . |
    podman import -q --change 'CMD ["bash"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        - "$image" >/dev/null
log "imported $image ($(podman image inspect --format '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}')) in $(( $(date +%s) - start )) s"
