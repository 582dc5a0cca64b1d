#!/usr/bin/env bash
# Installs what hilnic needs on a fresh Debian/Ubuntu machine: Icarus Verilog from the
# distribution's packages (when missing) and a virtual environment with the Python packages.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

if ! command -v iverilog >/dev/null 2>&1; then
    echo "hilnic: Icarus Verilog not found; installing it from the distribution's packages"
    if [ "$(id -u)" -eq 0 ]; then SUDO=""
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo"
    else
        echo "hilnic: cannot install iverilog: not root and no password-less sudo." >&2
        echo "        Install it yourself (apt-get install iverilog) and run this again." >&2
        exit 1
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "hilnic: no apt-get here; install Icarus Verilog (>= 11) with your package manager." >&2
        exit 1
    fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq iverilog >/dev/null
fi
iverilog -V 2>/dev/null | head -n 1

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV" || {
        echo "hilnic: '$PYTHON -m venv' failed; install python3-venv (apt-get install python3-venv)." >&2
        exit 1
    }
fi
stamp="$VENV/.hilnic-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
    "$VENV/bin/python" -m pip install -q -e ".[test]"
    touch "$stamp"
fi
