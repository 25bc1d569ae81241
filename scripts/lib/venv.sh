# Shared by the scripts: find a Python >= 3.14.2 and keep a virtualenv current.
# shellcheck shell=bash

python_ok() {
    "$1" -c 'import sys; sys.exit(sys.version_info < (3, 14, 2))' 2>/dev/null
}

find_python() {
    if [[ -n "${PYTHON:-}" ]]; then
        if ! python_ok "$PYTHON"; then
            echo "error: PYTHON=$PYTHON is not Python 3.14.2 or newer" >&2
            return 1
        fi
        echo "$PYTHON"
        return 0
    fi
    local candidate
    candidate="$(command -v python3.14 || true)"
    if [[ -n "$candidate" ]] && python_ok "$candidate"; then
        echo "$candidate"
        return 0
    fi
    candidate="$(command -v python3 || true)"
    if [[ -n "$candidate" ]] && python_ok "$candidate"; then
        echo "$candidate"
        return 0
    fi
    # A checkout beside a provisioning tool (as in CI) can get Python from it.
    if [[ -x ../shared/tools/ensure-python ]]; then
        candidate="$(../shared/tools/ensure-python 3.14 || true)"
        if [[ -n "$candidate" ]] && python_ok "$candidate"; then
            echo "$candidate"
            return 0
        fi
    fi
    if command -v uv >/dev/null; then
        candidate="$(uv python find '>=3.14.2' 2>/dev/null || true)"
        if [[ -z "$candidate" ]]; then
            uv python install 3.14 >&2
            candidate="$(uv python find '>=3.14.2')"
        fi
        echo "$candidate"
        return 0
    fi
    cat >&2 <<'EOF'
error: Python 3.14.2 or newer is required.
Install it (for example `uv python install 3.14`, your distribution's
python3.14 package, or https://www.python.org/downloads/), then run again,
or point PYTHON at it: PYTHON=/path/to/python3.14 scripts/test
EOF

    return 1
}

# ensure_venv VENV REQUIREMENTS...: create or update VENV from the files.
ensure_venv() {
    local venv="$1"
    shift
    local python
    # A venv made by another interpreter (or an older one) is rebuilt.
    if [[ -x "$venv/bin/python" ]] && ! python_ok "$venv/bin/python"; then
        rm -rf "$venv"
    fi
    if [[ -x "$venv/bin/python" ]]; then
        python="$venv/bin/python"
    else
        python="$(find_python)"
        echo "Creating $venv with $python" >&2
        "$python" -m venv "$venv"
    fi
    local stamp="$venv/.requirements.sha256" wanted
    wanted="$(cat "$@" | "$python" -c 'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')"
    if [[ "$(cat "$stamp" 2>/dev/null || true)" != "$wanted" ]]; then
        echo "Installing $* into $venv" >&2
        "$venv/bin/python" -m pip install --quiet --upgrade pip >&2
        local file
        for file in "$@"; do
            "$venv/bin/python" -m pip install --quiet -r "$file" >&2
        done
        echo "$wanted" >"$stamp"
    fi
}
