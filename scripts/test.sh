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
