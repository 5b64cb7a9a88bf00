r"""Several nodes of the loop in one process, on one single-threaded executor.

On a robot with few cores the control path (executor, expert, gate) pays for every process it
wakes; in one process a message still goes over DDS (Fast DDS delivers it inside the process)
but no other process has to be scheduled. Each node keeps its own name, so the same params
file sections (``/**/<node>``) and topic remaps apply as when they run apart.

With ``--inline`` the gate goes further: on each observation it calls the executor and the
expert (``answer_mode: always``) of its own process directly, decides, sends the command, and
only then publishes their answers for other listeners. An observation then costs one DDS hop
in and one out, as a bare echo does. Use it when the expert answers within a control period: a
slow planner would hold the gate's callback for as long as it plans.

``--executor events`` spins the nodes on rclpy's EventsExecutor instead of the
SingleThreadedExecutor: it does not rebuild the wait set of every subscription, timer and
parameter service on each spin, which on 2 cores halves the time to answer an observation.

    python -m dagger_ros.nodes.composed [--inline] [--executor events] \\
        policy_executor scripted_expert expert_gate --ros-args --params-file config/sim.yaml
"""

from __future__ import annotations

import logging
import sys
from typing import Callable, Sequence

from rclpy.node import Node

from dagger_ros.nodes.common import EXECUTORS, spin_nodes

log = logging.getLogger(__name__)
INLINE_FLAG = '--inline'


def node_factories() -> dict[str, Callable[[], Node]]:
    """Role name -> node class, imported on demand."""
    from dagger_ros.nodes.expert_gate import ExpertGate
    from dagger_ros.nodes.policy_executor import PolicyExecutor
    from dagger_ros.nodes.scripted_expert import ScriptedExpertNode
    from dagger_ros.nodes.sim_bridge import SimBridge
    return {'policy_executor': PolicyExecutor, 'scripted_expert': ScriptedExpertNode,
            'expert_gate': ExpertGate, 'sim_bridge': SimBridge}


def link_inline(nodes: list[Node]) -> None:
    """Let the gate call the executor and the expert directly; they stop reading observations."""
    from dagger_ros.nodes.expert_gate import ExpertGate
    from dagger_ros.nodes.policy_executor import PolicyExecutor
    from dagger_ros.nodes.scripted_expert import ScriptedExpertNode
    gate = next((node for node in nodes if isinstance(node, ExpertGate)), None)
    if gate is None:
        log.warning('%s without expert_gate: nothing to link', INLINE_FLAG)
        return
    found: dict[type, Node] = {}
    for node in nodes:
        kind = type(node)
        if kind in (PolicyExecutor, ScriptedExpertNode) and node.observation_sub is not None:
            node.destroy_subscription(node.observation_sub)
            node.observation_sub = None
            found[kind] = node
    gate.link_inline(policy=found.get(PolicyExecutor), expert=found.get(ScriptedExpertNode))
    log.info('gate calls %s directly', ', '.join(node.get_name() for node in found.values()))


def parse_words(words: Sequence[str]) -> tuple[list[str], bool, str]:
    """The roles, --inline and --executor KIND of the words before ``--ros-args``."""
    roles, inline, executor = [], False, 'single'
    items = iter(words)
    for word in items:
        if word == INLINE_FLAG:
            inline = True
        elif word == '--executor':
            executor = next(items, '')
        elif word.startswith('--executor='):
            executor = word.partition('=')[2]
        else:
            roles.append(word)
    return roles, inline, executor


def main(args: Sequence[str] | None = None) -> int:
    """Console script ``composed_node``: options and roles before ``--ros-args``."""
    argv = list(sys.argv if args is None else args)
    split = argv.index('--ros-args') if '--ros-args' in argv else len(argv)
    roles, inline, executor = parse_words(argv[1:split])
    factories = node_factories()
    unknown = [role for role in roles if role not in factories]
    logging.basicConfig(level=logging.INFO, format='%(levelname)s %(name)s: %(message)s')
    if not roles or unknown:
        log.error('expected roles among %s before --ros-args, got %s', sorted(factories), roles)
        return 2
    if executor not in EXECUTORS:
        log.error('--executor must be one of %s, got %r', EXECUTORS, executor)
        return 2
    return spin_nodes([factories[role] for role in roles], [argv[0]] + argv[split:],
                      link=link_inline if inline else None, executor_kind=executor)


if __name__ == '__main__':
    sys.exit(main())
