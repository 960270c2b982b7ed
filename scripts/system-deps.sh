#!/usr/bin/env bash
# Install the Debian packages the test suite needs, only when they are missing:
#   chromium     headless page tests (driven by Playwright, no browser download)
#   postgresql   the suite runs a second time on a throwaway PostgreSQL cluster
#   fonts-nanum  a Korean font, so pages render (and are measured) with real glyphs
# With --bootstrap (used by .ci/run on a fresh machine) it also ensures what `make setup`
# needs: make, python3-venv (ensurepip) and npm. With --venv (used by `make setup`) it only
# ensures python3-venv.
# Idempotent and quiet when everything is present. Needs root, or sudo.
set -euo pipefail

missing=()
if [ "${1:-}" = "--venv" ]; then
  # only what `python3 -m venv` needs (Debian ships venv and ensurepip separately)
  python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
elif [ "${1:-}" = "--bootstrap" ]; then
  command -v make >/dev/null 2>&1 || missing+=(make)
  python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
  command -v npm >/dev/null 2>&1 || missing+=(npm)
fi
if [ "${1:-}" != "--venv" ]; then
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null || missing+=(postgresql)
  if ! command -v fc-list >/dev/null 2>&1 || [ -z "$(fc-list :lang=ko 2>/dev/null)" ]; then
    missing+=(fonts-nanum)
  fi
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  echo "system-deps: missing Debian packages: ${missing[*]}" >&2
  echo "system-deps: install them as root: apt-get install -y ${missing[*]}" >&2
  exit 1
fi

echo "system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
