#!/usr/bin/env bash
# The whole check: lint, format, types (fail fast), then the test suite twice: on SQLite
# (everything) and on PostgreSQL (everything but the browser tests, which exercise pages, not
# storage, and the `slow` chain-only measurements such as expiry gas at 100,000 holders, which
# touch no database; fewer crash seeds, see below). Extra pytest arguments: PYTEST_ARGS="-k explorer -x".
# Run `make test` (which installs the venv and system packages first) or this script directly.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BIN=.venv/bin
read -ra extra <<<"${PYTEST_ARGS:-}"
pytest_cmd=("$BIN/pytest" -n 2 -p no:cacheprovider --durations=10)

section() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
elapsed() { printf '   (%ss)\n' "$((SECONDS - $1))"; }

t=$SECONDS; section "ruff check"; "$BIN/ruff" check src tests; elapsed "$t"
t=$SECONDS; section "ruff format --check"; "$BIN/ruff" format --check src tests; elapsed "$t"
t=$SECONDS; section "mypy"; "$BIN/mypy"; elapsed "$t"

failed=()

t=$SECONDS
section "pytest on SQLite"
"${pytest_cmd[@]}" "${extra[@]}" || failed+=("pytest on SQLite")
elapsed "$t"

t=$SECONDS
section "pytest on PostgreSQL"
started_pg=0
if ! bash scripts/pg.sh status; then
  started_pg=1
fi
pg_url=$(bash scripts/pg.sh start)
if [ "$started_pg" -eq 1 ]; then
  trap 'bash scripts/pg.sh stop' EXIT
fi
echo "PostgreSQL: ${pg_url%%:*}://…@${pg_url##*@}"
# The crash scenarios run 20 seeds each on SQLite; on PostgreSQL 5 seeds each keep the second
# pass shorter (BUSANCHAIN_PG_CRASH_SEEDS to change it). The whole CI run took 37-44 minutes on
# 2 cores in the last runs (limit 90); `--durations=10` below lists where the time goes.
pg_seeds=${BUSANCHAIN_PG_CRASH_SEEDS:-${BUSANCHAIN_CRASH_SEEDS:-5}}
BUSANCHAIN_TEST_DATABASE_URL=$pg_url BUSANCHAIN_CRASH_SEEDS=$pg_seeds \
  "${pytest_cmd[@]}" -m "not browser and not slow" "${extra[@]}" || failed+=("pytest on PostgreSQL")
elapsed "$t"

if [ ${#failed[@]} -gt 0 ]; then
  printf '\nFAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
printf '\nAll checks passed.\n'
