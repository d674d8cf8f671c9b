#!/bin/sh
# Make sure the Debian packages the build and the tests need are present.
# As root, missing ones are installed (apt-get update first); otherwise the
# exact install command is printed and the script fails. SHMC_NO_APT=1
# never installs, even as root: it checks and prints the command.
# Usage: scripts/deps.sh build|test|bench|python|deb
set -e
what=${1:-build}
pkgs="gcc make pkg-config liburcu-dev libcmocka-dev"
case "$what" in
  test)   pkgs="$pkgs python3 tmux python3-dev python3-django libmemcached-dev libhiredis-dev" ;;
  bench)  pkgs="$pkgs memcached redis-server libmemcached-dev libhiredis-dev gnuplot-nox" ;;
  python) pkgs="$pkgs python3-dev python3-django" ;;
  deb)    pkgs="$pkgs python3-dev debhelper dh-python dpkg-dev lintian" ;;
esac
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && [ "${SHMC_NO_APT:-0}" != 1 ]; then
  echo "deps: installing$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq $missing >&2
else
  echo "deps: missing packages:$missing" >&2
  [ "$(id -u)" = 0 ] && sudo="" || sudo="sudo "
  echo "deps: run:  ${sudo}apt-get update && ${sudo}apt-get install -y$missing" >&2
  exit 1
fi
