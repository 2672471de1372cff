#!/usr/bin/env bash
# Bootstrap the payhub development environment.
#
#   scripts/bootstrap.sh [--postgres] [--chromium] [--wrk] [--print-uv]
#
# Always: make sure `uv` exists (reuse one on PATH; else `pip install --user uv`;
# else a tools venv in .venv-tools/), link it as .venv-tools/bin/uv (the Makefile's
# PATH starts there), then `uv sync --frozen --all-groups` (.venv/).
# Optional, as root on Debian: install the system packages the tests and the
# benchmark need, when missing (apt-get update runs at most once, only if needed):
#   --postgres  postgresql (server binaries under /usr/lib/postgresql/*/bin)
#   --chromium  chromium + fonts-liberation (Playwright drives /usr/bin/chromium)
#   --wrk       wrk (HTTP load generator for `make bench`)
# --print-uv prints the path of the uv binary on the last line of stdout.
#
# Idempotent; a second run only checks and takes about a second.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

say() { printf '[bootstrap] %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

want_postgres=0 want_chromium=0 want_wrk=0 print_uv=0
for arg in "$@"; do
  case "$arg" in
    --postgres) want_postgres=1 ;;
    --chromium) want_chromium=1 ;;
    --wrk) want_wrk=1 ;;
    --print-uv) print_uv=1 ;;
    -h|--help) sed -n "2,16p" "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $arg (try --help)" ;;
  esac
done

PYTHON="${PYTHON:-python3}"
command -v "$PYTHON" >/dev/null || die "$PYTHON not found"

# ---------------------------------------------------------------- Debian packages
apt_updated=0
apt_install() {  # apt_install <check-command> <package>...
  local check="$1"; shift
  if eval "$check" >/dev/null 2>&1; then
    say "ok: $* already installed"
    return 0
  fi
  if [ "$(id -u)" -ne 0 ]; then
    die "$* missing and we are not root; install with: sudo apt-get install -y $*"
  fi
  command -v apt-get >/dev/null || die "$* missing and apt-get is not available"
  export DEBIAN_FRONTEND=noninteractive
  if [ "$apt_updated" -eq 0 ]; then
    say "apt-get update"
    apt-get update -qq >&2 || die "apt-get update failed"
    apt_updated=1
  fi
  say "installing Debian packages: $*"
  apt-get install -y -qq --no-install-recommends "$@" >&2 || die "apt-get install $* failed"
  eval "$check" >/dev/null 2>&1 || die "$* installed but the check '$check' still fails"
}

pg_server_present() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ] && return 0
  done
  return 1
}

if [ "$want_postgres" -eq 1 ]; then
  apt_install pg_server_present postgresql
fi
if [ "$want_chromium" -eq 1 ]; then
  apt_install "test -x /usr/bin/chromium && dpkg -s fonts-liberation" chromium fonts-liberation
fi
if [ "$want_wrk" -eq 1 ]; then
  apt_install "command -v wrk" wrk
fi

# ---------------------------------------------------------------- uv
user_bin="$("$PYTHON" -c 'import site, os; print(os.path.join(site.getuserbase(), "bin"))')"
tools_bin="$ROOT/.venv-tools/bin"

# The uv wheel knows where its binary went (user scheme, venv or system site-packages).
uv_from_python() { "$1" -c 'import uv; print(uv.find_uv_bin())' 2>/dev/null || true; }

find_uv() {
  local c
  for c in "${UV:-}" "$(command -v uv 2>/dev/null || true)" "$user_bin/uv" "$tools_bin/uv" \
      "$(uv_from_python "$PYTHON")"; do
    if [ -n "$c" ] && [ -x "$c" ] && "$c" --version >/dev/null 2>&1; then
      printf '%s\n' "$c"
      return 0
    fi
  done
  return 1
}

if ! UV_BIN="$(find_uv)"; then
  say "uv not found; trying: $PYTHON -m pip install --user uv"
  if "$PYTHON" -m pip install --user --quiet --disable-pip-version-check \
        --root-user-action=ignore uv >&2 \
      && UV_BIN="$(find_uv)"; then
    :
  else
    say "pip --user unsuitable here; installing uv into .venv-tools/"
    "$PYTHON" -m venv "$ROOT/.venv-tools" || die "could not create .venv-tools"
    printf '*\n' >"$ROOT/.venv-tools/.gitignore"   # keep the tools venv out of git
    "$tools_bin/python" -m pip install --quiet --disable-pip-version-check \
        --root-user-action=ignore uv >&2 \
      || die "could not install uv into .venv-tools"
    UV_BIN="$tools_bin/uv"
  fi
fi
say "uv: $UV_BIN ($("$UV_BIN" --version))"
# A stable place for the Makefile (which puts .venv-tools/bin on PATH) to find it.
if [ "$UV_BIN" != "$tools_bin/uv" ] && { [ -L "$tools_bin/uv" ] || [ ! -e "$tools_bin/uv" ]; }; then
  mkdir -p "$tools_bin"
  printf '*\n' >"$ROOT/.venv-tools/.gitignore"
  ln -sfn "$UV_BIN" "$tools_bin/uv"
fi

# ---------------------------------------------------------------- project venv
# Only PyPI is reachable: never let uv try to download a CPython build; use python3.
export UV_PYTHON_DOWNLOADS="${UV_PYTHON_DOWNLOADS:-never}"
if [ ! -x .venv/bin/python ]; then
  export UV_PYTHON="${UV_PYTHON:-$(command -v "$PYTHON")}"
fi
say "uv sync --frozen --all-groups"
"$UV_BIN" sync --frozen --all-groups >&2 || die "uv sync failed"
say "done: .venv ready ($(.venv/bin/python --version 2>&1))"

if [ "$print_uv" -eq 1 ]; then
  printf '%s\n' "$UV_BIN"
fi
