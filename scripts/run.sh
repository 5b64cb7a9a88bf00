#!/usr/bin/env bash
# The README's main command: set up .venv on a fresh clone, then run BC, DAgger and the gated
# variants on Pendulum-v1 with the scripted expert. Extra arguments go to `dagger-ros compare`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export MUJOCO_GL="${MUJOCO_GL:-egl}" PYTHONHASHSEED=0
# 10 rounds (1,200 labels) are enough for every algorithm here; a later --rounds wins.
exec .venv/bin/dagger-ros compare --env Pendulum-v1 --rounds 10 --out "${DAGGER_ROS_OUT:-runs/demo}" "$@"
