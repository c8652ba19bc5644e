# Shared by scripts/run.sh and scripts/test.sh: installs what is missing on a fresh Debian 12
# machine and wraps the PostgreSQL tools so servers run as an unprivileged user.
# shellcheck shell=bash

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PG_BIN=/usr/lib/postgresql/15/bin
PG_CONFIG="$PG_BIN/pg_config"
PGRX_VERSION=0.18.0
APT_PACKAGES=(postgresql-15 postgresql-server-dev-15 libclang-dev clang sudo python3-prometheus-client)
export PATH="$HOME/.cargo/bin:$PATH"

say() { printf '\n==> %s\n' "$*"; }

is_root() { [ "$(id -u)" = 0 ]; }

# Runs a command as root (directly, or through sudo for a developer account).
as_root() { if is_root; then "$@"; else sudo "$@"; fi; }

# Runs a PostgreSQL server tool as the unprivileged user that owns the clusters: postgres
# when we are root (initdb and postgres refuse to run as root), else the calling user.
as_pg_user() { if is_root; then runuser -u postgres -- "$@"; else "$@"; fi; }

ensure_packages() {
    local missing=() pkg
    for pkg in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        say "installing ${missing[*]}"
        as_root apt-get update -q
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
    fi
}

ensure_cargo_pgrx() {
    command -v cargo >/dev/null || { echo "cargo is not installed: install Rust (rustup) first" >&2; exit 1; }
    if ! cargo pgrx --version 2>/dev/null | grep -q " $PGRX_VERSION\$"; then
        say "installing cargo-pgrx $PGRX_VERSION (a few minutes)"
        cargo install cargo-pgrx --version "$PGRX_VERSION" --locked
    fi
    # Point pgrx at Debian's PostgreSQL 15; this makes no network call.
    if ! grep -qs "pg15 = \"$PG_CONFIG\"" "${PGRX_HOME:-$HOME/.pgrx}/config.toml"; then
        say "configuring pgrx for $PG_CONFIG"
        cargo pgrx init --pg15="$PG_CONFIG"
    fi
}

ensure_tools() {
    ensure_packages
    ensure_cargo_pgrx
}

# What the client tests need: PgBouncer, and the drivers of the examples in examples/ from the
# package registries (psycopg 3 into target/clients/python, node-postgres into
# examples/node/node_modules from its lock file).
PSYCOPG_VERSION=3.3.9
ensure_client_tools() {
    APT_PACKAGES=(pgbouncer)
    ensure_packages
    command -v node >/dev/null && command -v npm >/dev/null ||
        { echo "node and npm are needed for the Node.js example" >&2; exit 1; }
    local python_dir="$ROOT/target/clients/python"
    if ! PYTHONPATH="$python_dir" python3 -c "import psycopg, sys; sys.exit(psycopg.__version__ != '$PSYCOPG_VERSION')" 2>/dev/null; then
        say "installing psycopg $PSYCOPG_VERSION for the Python example"
        python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --upgrade \
            --target "$python_dir" "psycopg[binary]==$PSYCOPG_VERSION"
    fi
    if [ ! -d "$ROOT/examples/node/node_modules/pg" ]; then
        say "installing node-postgres for the Node.js example"
        (cd "$ROOT/examples/node" && npm ci --no-audit --no-fund --silent)
    fi
}

# Builds the extension (extra flags: --debug for a quick unoptimised build) and installs it
# into Debian's PostgreSQL 15. Files are replaced, not overwritten in place, so servers that
# have the old library loaded keep running on it (overwriting a loaded .so crashes them).
install_extension() {
    local stage
    stage="$(mktemp -d /tmp/pg_mq-package.XXXXXX)"
    (cd "$ROOT" && cargo pgrx package --pg-config "$PG_CONFIG" --out-dir "$stage" "$@")
    (cd "$stage" && find . -type f) | while read -r file; do
        as_root install -D -m 644 "$stage/$file" "/${file#./}"
    done
    rm -rf "$stage"
}

# Installs the install scripts of earlier releases (sql/releases/) beside the current one, so
# that the lifecycle tests can create an old version and update it (ALTER EXTENSION UPDATE).
install_release_scripts() {
    local dir script
    dir="$("$PG_CONFIG" --sharedir)/extension"
    for script in "$ROOT"/sql/releases/*.sql; do
        as_root install -m 644 "$script" "$dir/"
    done
}

# What the browser tier needs (scripts/browser.sh): Debian's Chromium, and playwright-core
# from tests/browser/package-lock.json (into tests/browser/node_modules). playwright-core
# drives the system's /usr/bin/chromium: it downloads no browser of its own.
ensure_browser_tools() {
    APT_PACKAGES=(chromium)
    ensure_packages
    command -v node >/dev/null && command -v npm >/dev/null ||
        { echo "node and npm are needed for the browser tests" >&2; exit 1; }
    local dir="$ROOT/tests/browser"
    if ! (cd "$dir" && node -e "const want = require('./package.json').dependencies['playwright-core'];
            process.exit(require('./node_modules/playwright-core/package.json').version === want ? 0 : 1)") 2>/dev/null; then
        say "installing playwright-core for the browser tests"
        (cd "$dir" && npm ci --no-audit --no-fund --silent)
    fi
}
