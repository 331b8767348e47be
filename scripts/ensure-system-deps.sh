#!/usr/bin/env bash
# Make sure the Debian packages Xunjian needs are installed, touching apt only when one is missing.
#
#   scripts/ensure-system-deps.sh [--dry-run] [--assume-missing PKG]... [PKG...]
#
# PKG defaults to everything `make test` needs: chromium (browser tests), postgresql (the second
# test run), fonts-noto-cjk (Chinese text on QR label sheets). When all are present this only reads
# the dpkg database and prints one line. Otherwise it runs `apt-get update` once and a single
# `apt-get install`, through sudo when not root.
#
# --dry-run             print the apt commands instead of running them
# --assume-missing PKG  treat PKG as missing although it is installed (to see the fresh-machine path)
set -euo pipefail

dry_run=0
assume_missing=()
pkgs=()
while (($#)); do
    case "$1" in
        --dry-run) dry_run=1 ;;
        --assume-missing) shift; assume_missing+=("${1:?--assume-missing needs a package name}") ;;
        --assume-missing=*) assume_missing+=("${1#*=}") ;;
        -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
        -*) echo "ensure-system-deps: unknown option $1" >&2; exit 2 ;;
        *) pkgs+=("$1") ;;
    esac
    shift
done
((${#pkgs[@]})) || pkgs=(chromium postgresql fonts-noto-cjk)

dpkg_installed() {
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

# Installed means: dpkg says so, or what we use from the package is already on disk
# (e.g. postgresql-15 without the `postgresql` metapackage).
present() {
    local p
    for p in "${assume_missing[@]}"; do [ "$p" = "$1" ] && return 1; done
    dpkg_installed "$1" && return 0
    case "$1" in
        chromium) [ -x /usr/bin/chromium ] ;;
        postgresql) compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null ;;
        fonts-noto-cjk) [ -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] ;;
        *) return 1 ;;
    esac
}

missing=()
for p in "${pkgs[@]}"; do
    present "$p" || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
    echo "==> system packages present: ${pkgs[*]}"
    exit 0
fi

echo "==> system packages missing: ${missing[*]}"

as_root=()
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1 && ((!dry_run)); then
        echo "ensure-system-deps: need root to install ${missing[*]} and sudo is not available;" >&2
        echo "  install them yourself: apt-get install ${missing[*]}" >&2
        exit 1
    fi
    as_root=(sudo)
    [ -t 0 ] || as_root+=(-n)  # no terminal (CI): fail instead of waiting for a password
fi

# --no-install-recommends: the browser runs headless, the cluster is a throwaway; recommends only add
# minutes (desktop daemons, sysstat) to a fresh install.
update_cmd=("${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q)
install_cmd=("${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q
    --no-install-recommends "${missing[@]}")

if ((dry_run)); then
    echo "would run: ${update_cmd[*]}"
    echo "would run: ${install_cmd[*]}"
    exit 0
fi

echo "==> apt-get update"
"${update_cmd[@]}" >/dev/null
echo "==> apt-get install ${missing[*]} (a few minutes on a fresh machine)"
"${install_cmd[@]}"

for p in "${missing[@]}"; do
    if ! dpkg_installed "$p"; then
        echo "ensure-system-deps: $p is still not installed after apt-get install" >&2
        exit 1
    fi
done
echo "==> system packages installed: ${missing[*]}"
