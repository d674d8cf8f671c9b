#!/bin/sh
# Make sure the Debian packages the build and the tests need are present.
# As root, missing ones are installed (apt-get update first); otherwise the
# exact install command is printed and the script fails. SHMC_NO_APT=1
# never installs, even as root: it checks and prints the command.
# Usage: scripts/deps.sh build|test|bench|python|e2e|php|deb
set -e
what=${1:-build}
pkgs="gcc make pkg-config liburcu-dev libcmocka-dev"
# The PHP extension, its tests (run-tests.php, PHP-FPM behind cgi-fcgi) and
# its peers in bench/php_bench.sh and make php-chaos.
php_pkgs="php8.2-dev php8.2-cli php8.2-fpm php-apcu php-igbinary libfcgi-bin php-redis php-memcached"
case "$what" in
  test)   pkgs="$pkgs python3 tmux python3-dev python3-django libmemcached-dev libhiredis-dev redis-server"
          pkgs="$pkgs python3-venv python3-setuptools python3-wheel gunicorn wrk $php_pkgs" ;;
  bench)  pkgs="$pkgs memcached redis-server libmemcached-dev libhiredis-dev gnuplot-nox" ;;
  python) pkgs="$pkgs python3-dev python3-django python3-venv python3-setuptools python3-wheel" ;;
  # make e2e: the Django shop under gunicorn, loaded by wrk, four cache backends
  e2e)    pkgs="$pkgs python3-dev python3-django gunicorn wrk memcached redis-server"
          pkgs="$pkgs python3-pymemcache python3-django-redis" ;;
  php)    pkgs="$pkgs $php_pkgs" ;;
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
