#!/usr/bin/env bash
# A process-supervisor stand-in for deploy/activate.sh tests (SYSTEMCTL=this script): it really
# starts and stops `<PREFIX>/current/bin/codex-image-gateway.js serve|control` as a background
# process with a pid file, as systemd would run the units, so readiness checks are real.
#   fake-systemctl.sh restart|start|stop|status|is-active UNIT...
#   fake-systemctl.sh show --property=ActiveState,SubState --value UNIT...
#     (active/running while the process lives; failed/failed once a started process has exited;
#     inactive/dead when stopped or never started)
# Environment: PREFIX, NODE, ENV_FILE (sourced into the started process, like EnvironmentFile=),
# FAKE_SYSTEMCTL_DIR (pid files, logs, and <unit>.release = the release folder each start used).
# A unit whose name contains "control" runs `control`; any other runs `serve`.
set -euo pipefail

: "${PREFIX:?}" "${NODE:?}" "${ENV_FILE:?}" "${FAKE_SYSTEMCTL_DIR:?}"
mkdir -p "$FAKE_SYSTEMCTL_DIR"

pid_of() { cat "$FAKE_SYSTEMCTL_DIR/$1.pid" 2> /dev/null || true; }

# Alive and not a zombie (an exited child nobody reaped still answers kill -0).
is_alive() {
  local pid=$1 state
  [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
  state=$(sed -E 's/^[0-9]+ \(.*\) ([A-Za-z]).*/\1/' "/proc/$pid/stat")
  [ "$state" != Z ]
}

start_unit() {
  local unit=$1 command=serve
  [[ "$unit" == *control* ]] && command=control
  printf '%s\n' "$(readlink -f "$PREFIX/current")" > "$FAKE_SYSTEMCTL_DIR/$unit.release"
  (
    set -a
    # shellcheck source=/dev/null
    . "$ENV_FILE"
    set +a
    exec "$NODE" "$PREFIX/current/bin/codex-image-gateway.js" "$command"
  ) >> "$FAKE_SYSTEMCTL_DIR/$unit.log" 2>&1 < /dev/null &
  printf '%s\n' "$!" > "$FAKE_SYSTEMCTL_DIR/$unit.pid"
}

# SIGTERM, then up to 20 s for the graceful stop, then SIGKILL (TimeoutStopSec in small).
stop_unit() {
  local unit=$1 pid waited=0
  pid=$(pid_of "$unit")
  if is_alive "$pid"; then
    kill -TERM "$pid" 2> /dev/null || true
    while is_alive "$pid" && [ "$waited" -lt 200 ]; do
      sleep 0.1
      waited=$((waited + 1))
    done
    if is_alive "$pid"; then kill -KILL "$pid" 2> /dev/null || true; fi
  fi
  rm -f "$FAKE_SYSTEMCTL_DIR/$unit.pid"
}

# ActiveState and SubState, one per line, as `systemctl show --property=ActiveState,SubState --value`.
show_state() {
  local unit=$1
  if is_alive "$(pid_of "$unit")"; then
    printf 'active\nrunning\n'
  elif [ -n "$(pid_of "$unit")" ]; then
    printf 'failed\nfailed\n'
  else
    printf 'inactive\ndead\n'
  fi
}

action=${1:?action}
shift
for unit in "$@"; do
  [[ "$unit" == --* ]] && continue
  case $action in
    show) show_state "$unit" ;;
    start) is_alive "$(pid_of "$unit")" || start_unit "$unit" ;;
    stop) stop_unit "$unit" ;;
    restart)
      stop_unit "$unit"
      start_unit "$unit"
      ;;
    is-active) is_alive "$(pid_of "$unit")" ;;
    status)
      printf '%s: pid %s, release %s\n' "$unit" "$(pid_of "$unit")" "$(cat "$FAKE_SYSTEMCTL_DIR/$unit.release" 2> /dev/null || true)"
      tail -n 20 "$FAKE_SYSTEMCTL_DIR/$unit.log" 2> /dev/null || true
      ;;
    *)
      printf 'fake-systemctl: unsupported action %s\n' "$action" >&2
      exit 1
      ;;
  esac
done
