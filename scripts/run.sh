#!/usr/bin/env bash
# The README's main command: set up .venv on a fresh clone, then run the live loop on
# Pendulum-v1: sim bridge, policy executor, scripted expert, expert gate and trainer, each its
# own process over ROS 2 (DDS) on a private domain. Extra arguments go to `dagger-ros live`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export MUJOCO_GL="${MUJOCO_GL:-egl}" PYTHONHASHSEED=0
export ROS_AUTOMATIC_DISCOVERY_RANGE="${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}"
exec .venv/bin/dagger-ros live --env Pendulum-v1 --rounds 10 --out "${DAGGER_ROS_OUT:-runs/live}" "$@"
