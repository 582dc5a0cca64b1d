#!/usr/bin/env bash
# Installs what hilnic needs on a fresh Debian/Ubuntu machine: Icarus Verilog, tshark and lz4's
# headers from the distribution's packages (when missing) and a virtual environment with the
# Python packages.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

# Debian packages: Icarus Verilog (needed), tshark (the pcap test validates checksums and TCP
# analysis with it; it skips without, except on CI where it fails), lz4's headers (Verilator
# writes FST waveforms only with lz4.h; without it, VCD) and iproute2 (`ip`: `hilnic run --peer
# linux` builds its network namespace with it). Only what is missing is installed.
need=()
command -v iverilog >/dev/null 2>&1 || need+=(iverilog)
command -v tshark >/dev/null 2>&1 || need+=(tshark)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
[ -f /usr/include/lz4.h ] || need+=(liblz4-dev)
if [ "${#need[@]}" -gt 0 ]; then
    echo "hilnic: installing from the distribution's packages: ${need[*]}"
    SUDO=none
    if [ "$(id -u)" -eq 0 ]; then SUDO=""
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo"
    fi
    if [ "$SUDO" = none ] || ! command -v apt-get >/dev/null 2>&1; then
        why="not root and no password-less sudo"
        command -v apt-get >/dev/null 2>&1 || why="no apt-get here"
        if ! command -v iverilog >/dev/null 2>&1; then
            echo "hilnic: cannot install Icarus Verilog ($why): install iverilog (>= 11) yourself and run this again." >&2
            exit 1
        fi
        echo "hilnic: not installed ($why): ${need[*]} -- the tshark test skips, Verilator waves are VCD" >&2
    else
        $SUDO apt-get update -qq
        # tshark's wireshark-common asks whether non-root users may capture: keep the default (no)
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
    fi
fi
iverilog -V 2>/dev/null | head -n 1
# `--peer linux` opens a TAP: a container may lack the device node although the kernel has tun
if [ ! -e /dev/net/tun ] && [ "$(id -u)" -eq 0 ]; then
    { modprobe tun 2>/dev/null || true; mkdir -p /dev/net && mknod -m 600 /dev/net/tun c 10 200; } 2>/dev/null ||
        echo "hilnic: no /dev/net/tun (--peer linux and its tests need it)" >&2
fi

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
