# fpm_lib.sh - start, drive and stop a private PHP-FPM for the tests and the
# chaos run (sourced). The master listens on a unix socket in its own temp
# dir (nothing on the network), runs in the foreground under this shell and
# is stopped by its PID; php.ini is not read (-n), so the only extensions
# are the ones named here.
#   fpm_start EXT POOL NWORKERS [extra -d settings...]  sets FPM_DIR FPM_PID FPM_SOCK
#                                As root the master runs as root (-R), or as
#                                user $FPM_USER when that is set (through
#                                setpriv, which execs: FPM_PID stays the master's)
#   fpm_get QUERY [timeout_s]   GET $FPM_DIR/app.php?QUERY, body on stdout;
#                                status 124 (or 137) when it did not answer in time
#   fpm_stop
FPM_BIN=${FPM_BIN:-$(command -v php-fpm8.2 || echo /usr/sbin/php-fpm8.2)}

fpm_start() {
  ext=$1; pool=$2; n=$3; shift 3
  FPM_DIR=$(mktemp -d /tmp/shmcache-fpm.XXXXXX)
  FPM_SOCK=$FPM_DIR/fpm.sock
  cat >"$FPM_DIR/fpm.conf" <<CONF
[global]
error_log = $FPM_DIR/fpm.log
daemonize = no
[$pool]
listen = $FPM_SOCK
pm = static
pm.max_children = $n
; a request stuck past this is reported by fpm_get's own timeout first
request_terminate_timeout = 60
catch_workers_output = yes
CONF
  root=""; runas=""
  if [ "$(id -u)" = 0 ] && [ -n "${FPM_USER:-}" ]; then
    chown "$FPM_USER" "$FPM_DIR"
    runas="setpriv --reuid=$FPM_USER --regid=$(id -g "$FPM_USER") --clear-groups"
  elif [ "$(id -u)" = 0 ]; then
    root=-R
  fi
  dflags=""
  for d in "$@"; do dflags="$dflags -d $d"; done
  [ -n "$ext" ] && dflags="-d extension=$ext $dflags"
  # shellcheck disable=SC2086
  $runas "$FPM_BIN" -n $root -F -y "$FPM_DIR/fpm.conf" $dflags >"$FPM_DIR/stdout" 2>&1 &
  FPM_PID=$!
  i=0
  while [ ! -S "$FPM_SOCK" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
  [ -S "$FPM_SOCK" ] || { echo "php-fpm did not start:"; cat "$FPM_DIR/stdout" "$FPM_DIR/fpm.log"; return 1; }
}

fpm_get() {
  # timeout exits 124 exactly when the time ran out (-k: KILL 1 s after
  # TERM, should cgi-fcgi ignore TERM)
  out=$(SCRIPT_FILENAME=$FPM_DIR/app.php REQUEST_METHOD=GET QUERY_STRING=$1 \
    timeout -k 1 "${2:-10}" cgi-fcgi -bind -connect "$FPM_SOCK" 2>/dev/null)
  rc=$?
  printf '%s\n' "$out" | tr -d '\r' | sed '1,/^$/d'
  return $rc
}

# The live worker PIDs of the master.
fpm_workers() {
  pgrep -P "$FPM_PID" | tr '\n' ' '
}

fpm_stop() {
  if [ -n "${FPM_PID:-}" ]; then
    kill -TERM "$FPM_PID" 2>/dev/null
    i=0
    while kill -0 "$FPM_PID" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
    kill -KILL "$FPM_PID" 2>/dev/null
    wait "$FPM_PID" 2>/dev/null
    FPM_PID=""
  fi
  [ -n "${FPM_DIR:-}" ] && rm -rf "$FPM_DIR"
  FPM_DIR=""
}
