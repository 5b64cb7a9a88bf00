#!/usr/bin/env bash
# Set up .venv/ in the repository for running, testing and benchmarking dagger_ros.
#
# Idempotent: a fresh clone gets a venv with CPU torch, the package (editable, so the repo's
# files are the ones imported) and the ros, sim and test extras. Later runs return at once
# while .venv/.bootstrap-stamp matches the hash of setup.py, this script and the torch spec.
#
# Environment:
#   PYTHON                   interpreter that creates the venv (default python3, >= 3.10)
#   DAGGER_ROS_TORCH         torch requirement installed first (default torch==2.13.0)
#   DAGGER_ROS_TORCH_INDEX   extra index for it, e.g. https://download.pytorch.org/whl/cpu
#   DAGGER_ROS_EXTRAS        extras to install (default ros,sim,test)
#
# torch goes in before the package: `torch>=2.2` in setup.py is then already satisfied, so
# pip never swaps in the multi-GB default (CUDA) build. The ROS 2 wheels need a real venv
# (ros-wheels-bootstrapper re-executes the interpreter), hence `python -m venv`, not --user.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
PY="$VENV/bin/python"
STAMP="$VENV/.bootstrap-stamp"
LOG="$VENV/bootstrap.log"
TORCH="${DAGGER_ROS_TORCH:-torch==2.13.0}"
EXTRAS="${DAGGER_ROS_EXTRAS:-ros,sim,test}"

wanted_stamp() {
    { cat setup.py scripts/bootstrap.sh; echo "$TORCH ${DAGGER_ROS_TORCH_INDEX:-} $EXTRAS"; } \
        | sha256sum | cut -d' ' -f1
}

if [ -x "$PY" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(wanted_stamp)" ]; then
    exit 0
fi

if [ ! -x "$PY" ]; then
    "${PYTHON:-python3}" -c 'import sys; sys.exit(sys.version_info < (3, 10))' || {
        echo "bootstrap: ${PYTHON:-python3} is older than 3.10" >&2
        exit 1
    }
    echo "bootstrap: creating $VENV" >&2
    "${PYTHON:-python3}" -m venv "$VENV"
fi

# Quiet on success; on failure show what pip said.
pip_quiet() {
    if ! "$PY" -m pip --disable-pip-version-check install "$@" >"$LOG" 2>&1; then
        echo "bootstrap: pip install $* failed:" >&2
        cat "$LOG" >&2
        exit 1
    fi
}

echo "bootstrap: installing into $VENV (log: $LOG)" >&2
start=$SECONDS
pip_quiet --upgrade pip
torch_index=()
if [ -n "${DAGGER_ROS_TORCH_INDEX:-}" ]; then
    torch_index=(--extra-index-url "$DAGGER_ROS_TORCH_INDEX")
fi
pip_quiet "${torch_index[@]}" "$TORCH"
pip_quiet "${torch_index[@]}" -e ".[$EXTRAS]"
"$PY" -c 'import dagger_ros, torch; print(f"bootstrap: dagger_ros {dagger_ros.__version__}, torch {torch.__version__}")' >&2
echo "bootstrap: done in $((SECONDS - start)) s" >&2
wanted_stamp >"$STAMP"
