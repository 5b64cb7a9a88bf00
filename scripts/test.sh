#!/usr/bin/env bash
# Run the whole test suite (the README's test command); extra arguments go to pytest.
#
# Sets up .venv/ first (scripts/bootstrap.sh; a no-op when it is current), then runs pytest
# headless (SDL dummy drivers, MuJoCo on EGL), with a fixed hash seed, and on a ROS domain
# of its own that stays on this host, so parallel runs on one machine do not hear each other.
# "No tests collected" (pytest exit 5) counts as a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh

# The live view's test draws in a real X window on a virtual screen (Debian's xvfb).
if ! command -v Xvfb >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "test.sh: installing xvfb for the live-view test" >&2
        apt-get install -y -qq xvfb >/dev/null 2>&1 \
            || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq xvfb >/dev/null 2>&1; } \
            || echo "test.sh: could not install xvfb; the live-view test will fail" >&2
    else
        echo "test.sh: Xvfb is missing (apt install xvfb); the live-view test will fail" >&2
    fi
fi

export SDL_VIDEODRIVER=dummy SDL_AUDIODRIVER=dummy
export MUJOCO_GL="${MUJOCO_GL:-egl}"
export PYTHONHASHSEED=0
export ROS_DOMAIN_ID="${ROS_DOMAIN_ID:-$((RANDOM % 101 + 1))}"
export ROS_AUTOMATIC_DISCOVERY_RANGE="${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}"

rc=0
.venv/bin/python -m pytest -q -p no:cacheprovider "$@" || rc=$?
if [ "$rc" -eq 5 ]; then
    echo "test.sh: pytest collected no tests; that is a failure here" >&2
    exit 1
fi
exit "$rc"
