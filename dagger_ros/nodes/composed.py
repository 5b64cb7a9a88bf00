r"""Several nodes of the loop in one process, on one single-threaded executor.

On a robot with few cores the control path (executor, expert, gate) pays for every process it
wakes; in one process a message still goes over DDS (Fast DDS delivers it inside the process)
but no other process has to be scheduled. Each node keeps its own name, so the same params
file sections (``/**/<node>``) and topic remaps apply as when they run apart.

    python -m dagger_ros.nodes.composed policy_executor scripted_expert expert_gate \\
        --ros-args --params-file config/sim.yaml
"""

from __future__ import annotations

import logging
import sys
from typing import Callable, Sequence

from rclpy.node import Node

from dagger_ros.nodes.common import spin_nodes

log = logging.getLogger(__name__)


def node_factories() -> dict[str, Callable[[], Node]]:
    """Role name -> node class, imported on demand."""
    from dagger_ros.nodes.expert_gate import ExpertGate
    from dagger_ros.nodes.policy_executor import PolicyExecutor
    from dagger_ros.nodes.scripted_expert import ScriptedExpertNode
    from dagger_ros.nodes.sim_bridge import SimBridge
    return {'policy_executor': PolicyExecutor, 'scripted_expert': ScriptedExpertNode,
            'expert_gate': ExpertGate, 'sim_bridge': SimBridge}


def main(args: Sequence[str] | None = None) -> int:
    """Console script ``composed_node``: the roles named before ``--ros-args``."""
    argv = list(sys.argv if args is None else args)
    split = argv.index('--ros-args') if '--ros-args' in argv else len(argv)
    roles = argv[1:split]
    factories = node_factories()
    unknown = [role for role in roles if role not in factories]
    logging.basicConfig(level=logging.INFO, format='%(levelname)s %(name)s: %(message)s')
    if not roles or unknown:
        log.error('expected roles among %s before --ros-args, got %s', sorted(factories), roles)
        return 2
    return spin_nodes([factories[role] for role in roles], [argv[0]] + argv[split:])


if __name__ == '__main__':
    sys.exit(main())
