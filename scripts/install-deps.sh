#!/bin/sh
# Installs the Debian packages revops-stream needs to build and test, if any
# is missing. Quiet and quick when everything is already there.
set -e
pkgs="build-essential pkg-config libyajl-dev libzstd-dev libuv1-dev libcmocka-dev jq python3 zstd time parallel socat clang libclang-rt-14-dev valgrind postgresql sqlite3 kcat mandoc"
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
# python3 may come from elsewhere (pyenv); accept any python3 on PATH.
case "$missing" in *python3*) command -v python3 >/dev/null 2>&1 && missing=$(echo "$missing" | sed 's/ python3//');; esac
[ -z "$missing" ] && exit 0
echo "install-deps: installing:$missing" >&2
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
$SUDO apt-get update -qq
# env after sudo: sudo would drop variables set before it.
$SUDO env DEBIAN_FRONTEND=noninteractive DEBCONF_NOWARNINGS=yes apt-get install -y -qq $missing >/dev/null
