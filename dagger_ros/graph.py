"""The live loop's node graph, declared once, for both launchers.

:func:`dagger_graph` lists the nodes of a profile as :class:`NodeSpec` values. Two derivations
turn a spec into something that starts it:

* :func:`to_launch_kwargs`: keyword arguments of ``launch_ros.actions.Node`` (the launch files
  in ``launch/`` use it, as nav2's launch files use nav2_common);
* :func:`to_command`: a subprocess argv, ``python -m dagger_ros.nodes.<role> --ros-args ...``
  (the bare-machine runner :mod:`dagger_ros.run` uses it).

With ``composition`` other than ``separate`` the control path (executor, scripted expert, gate)
is one spec with ``members``: one ``composed_node`` process (:mod:`dagger_ros.nodes.composed`)
in which every member keeps its name, params file section and remaps.

test/test_graph.py checks that the two agree, so the launch files stay right although launch
is not installed where the tests run. This module imports neither rclpy nor launch.

Params files: one YAML with one section per node, keyed by the node name. Use the key
``/**/<name>`` (for example ``/**/policy_executor:``): a plain ``policy_executor:`` key only
matches the node outside any namespace, so ``namespace:=robot1`` would silently drop it.

Profiles (world x expert):

==================  =========  ==========================  ===================
profile             world      expert                      default algorithm
==================  =========  ==========================  ===================
``sim``             sim_bridge scripted_expert             dagger
``sim_human``       sim_bridge gamepad (a human)           hg_dagger
``robot``           robot      gamepad (a human)           hg_dagger
``robot_scripted``  robot      scripted_expert             dagger
==================  =========  ==========================  ===================
"""

from __future__ import annotations

from dataclasses import dataclass
import hashlib
import json
import math
import os
from pathlib import Path
import re
import sys
import tempfile
from typing import Any, Iterable, Mapping, Sequence

import yaml

from dagger_ros.core.errors import ConfigError

PACKAGE = 'dagger_ros'
RESPAWN_DELAY_S = 2.0
"""Seconds between a respawning node's exit and its restart (launch and runner alike)."""
RESPAWN_MAX_RETRIES = 5
"""Restarts of one respawning node before it stays down (launch and runner alike)."""
COMPOSITIONS = ('separate', 'composed', 'inline')
"""separate: a process per node; composed: the control path's nodes in one process; inline:
in that process the gate calls the executor and the expert directly, on the EventsExecutor."""
CONTROL_ROLES = ('policy_executor', 'scripted_expert', 'expert_gate')
_COMPOSED_OPTIONS = {'composed': (), 'inline': ('--inline', '--executor', 'events')}

_NAME = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')
_TOPIC = re.compile(r'^(/|~/)?[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*$')


@dataclass(frozen=True)
class NodeSpec:
    """One node of the graph, independent of the launcher that starts it.

    Attributes:
        executable: console script ``<role>_node``; its module is ``dagger_ros.nodes.<role>``.
        name: the node name.
        parameters_key: the node's section in the params YAML (``/**/<key>``).
        remappings: (from, to) topic remappings, relative names unless deliberately absolute.
        parameters: extra parameters as sorted (name, value) pairs; they override the YAML.
        respawn: restart the node when it exits while the graph runs.
        members: the nodes of a composed process (its own name is then only a label).
        options: the composed process's options, before its roles.
    """

    executable: str
    name: str
    parameters_key: str
    remappings: tuple[tuple[str, str], ...] = ()
    parameters: tuple[tuple[str, Any], ...] = ()
    respawn: bool = False
    members: tuple[NodeSpec, ...] = ()
    options: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.executable.endswith('_node') or not _NAME.match(self.executable):
            raise ConfigError(f'executable must be <role>_node, got {self.executable!r}')
        if not _NAME.match(self.name):
            raise ConfigError(f'node name must match {_NAME.pattern}, got {self.name!r}')
        for source, target in self.remappings:
            check_topic_name(source)
            check_topic_name(target)

    @property
    def module(self) -> str:
        """The Python module whose ``main()`` runs the node."""
        return f'{PACKAGE}.nodes.{self.executable[:-len("_node")]}'

    @property
    def extra_parameters(self) -> dict[str, Any]:
        """The extra parameters as a dict."""
        return dict(self.parameters)

    @property
    def arguments(self) -> list[str]:
        """Words before ``--ros-args``: a composed process's options, then its roles."""
        return [*self.options, *(member.executable[:-len('_node')] for member in self.members)]


@dataclass(frozen=True)
class Profile:
    """Which world and which expert a graph has."""

    world: str
    expert: str
    algorithm: str


PROFILES = {
    'sim': Profile('sim', 'scripted', 'dagger'),
    'sim_human': Profile('sim', 'human', 'hg_dagger'),
    'robot': Profile('robot', 'human', 'hg_dagger'),
    'robot_scripted': Profile('robot', 'scripted', 'dagger'),
}

# role -> respawn. Training and the gamepad come back on their own (the trainer reloads its
# dataset, a gamepad driver recovers from an unplugged pad); a crashed control-path node stays
# down and visible: the safety layer commands the fallback, and a restart mid-episode would
# hide the fault.
_RESPAWN = {'sim_bridge': False, 'policy_executor': False, 'scripted_expert': False,
            'gamepad': True, 'live_view': False, 'expert_gate': False, 'trainer': True}
# A person cannot follow a lockstep simulation running as fast as the CPU allows: human-gated
# simulations run in real time and render frames for the live view.
_HUMAN_SIM = {'sim_bridge': {'mode': 'realtime', 'render_hz': 10.0},
              'expert_gate': {'mode': 'realtime'}}
_USES_ALGORITHM = ('policy_executor', 'expert_gate', 'trainer')


def check_topic_name(name: str) -> str:
    """Return name if it is a valid ROS topic name (relative, ``/absolute`` or ``~/private``).

    Raises:
        ConfigError: naming the bad name.
    """
    if not _TOPIC.match(name) or '__' in name:
        raise ConfigError(f'{name!r} is not a valid ROS topic name; expected tokens of '
                          f'[A-Za-z0-9_] (not starting with a digit) separated by /')
    return name


def normalize_namespace(namespace: str) -> str:
    """Return namespace without leading/trailing slashes ('' for none), checked.

    Raises:
        ConfigError: for a namespace with invalid tokens.
    """
    stripped = namespace.strip().strip('/')
    if stripped and not all(_NAME.match(token) for token in stripped.split('/')):
        raise ConfigError(f'namespace {namespace!r} is invalid; expected tokens of [A-Za-z0-9_] '
                          f'separated by /, like robot1 or lab/robot1')
    return stripped


def _roles(profile: Profile) -> list[str]:
    roles = ['sim_bridge'] if profile.world == 'sim' else []
    roles.append('policy_executor')
    roles += ['scripted_expert'] if profile.expert == 'scripted' else ['gamepad', 'live_view']
    return roles + ['expert_gate', 'trainer']


def dagger_graph(profile: str = 'sim', algorithm: str | None = None,
                 overrides: Mapping[str, Mapping[str, Any]] | None = None,
                 remap: Mapping[str, str] | None = None,
                 use_sim_time: bool = False, composition: str = 'separate') -> list[NodeSpec]:
    """Return the nodes of the live loop for a profile, in start order.

    Args:
        profile: one of :data:`PROFILES`.
        algorithm: the algorithm parameter of the loop nodes; the profile's default when None.
        overrides: extra parameters per node name (``'*'``: every node); they win over YAML.
        remap: topic remappings applied to every node, e.g. ``{'observation':
            '/arm/joint_states'}`` to plug the loop into a robot's own topics.
        use_sim_time: the use_sim_time parameter of every node.
        composition: one of :data:`COMPOSITIONS`; overrides still name the member nodes.

    Raises:
        ConfigError: for an unknown profile or composition, an override for a node not in the
            graph, or a bad topic name.
    """
    if profile not in PROFILES:
        raise ConfigError(f'unknown profile {profile!r}; expected one of {sorted(PROFILES)}')
    if composition not in COMPOSITIONS:
        raise ConfigError(f'unknown composition {composition!r}; expected one of '
                          f'{list(COMPOSITIONS)}')
    chosen = PROFILES[profile]
    roles = _roles(chosen)
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(roles) - {'*'})
    if unknown:
        raise ConfigError(f'overrides for {unknown}, which are not in profile {profile!r}; '
                          f'expected some of {roles} or *')
    remappings = tuple((source, target) for source, target in (remap or {}).items()
                       if target and target != source)
    specs = []
    for role in roles:
        params: dict[str, Any] = {'use_sim_time': bool(use_sim_time)}
        if role in _USES_ALGORITHM:
            params['algorithm'] = algorithm or chosen.algorithm
        if role == 'expert_gate' and chosen.expert == 'human':
            params['human_input'] = 'joy'  # the gamepad node feeds the gate
        if chosen.expert == 'human' and chosen.world == 'sim':
            params.update(_HUMAN_SIM.get(role, {}))
        if chosen.world == 'robot' and role == 'expert_gate':
            params['mode'] = 'realtime'  # a robot's observations carry no lockstep seq
        if role == 'live_view' and (algorithm or chosen.algorithm) in ('budgeted', 'async'):
            params['requests'] = True  # the person answers the label queries
        params.update(overrides.get('*', {}))
        params.update(overrides.get(role, {}))
        specs.append(NodeSpec(executable=f'{role}_node', name=role, parameters_key=role,
                              remappings=remappings, parameters=tuple(sorted(params.items())),
                              respawn=_RESPAWN[role]))
    return _compose(specs, composition)


def _compose(specs: list[NodeSpec], composition: str) -> list[NodeSpec]:
    """specs with the control path's nodes as one process, where the first of them was."""
    if composition == 'separate':
        return specs
    members = tuple(spec for spec in specs if spec.name in CONTROL_ROLES)
    process = NodeSpec(executable='composed_node', name='control', parameters_key='control',
                       remappings=members[0].remappings, members=members,
                       options=_COMPOSED_OPTIONS[composition])
    first = specs.index(members[0])
    rest = [spec for spec in specs if spec not in members]
    return rest[:first] + [process] + rest[first:]


def _params_files(params_file: str | Sequence[str]) -> list[str]:
    files = [params_file] if isinstance(params_file, (str, Path)) else list(params_file)
    return [str(path) for path in files if str(path)]


def to_launch_kwargs(spec: NodeSpec, namespace: str,
                     params_file: str | Sequence[str]) -> dict[str, Any]:
    """Return the keyword arguments of ``launch_ros.actions.Node`` that start spec.

    The namespace is passed relative, so that it nests under a PushRosNamespace; later params
    files and then the extra parameters win over earlier ones. A composed process gets no name
    (that would rename every node in it) and its members' parameters as one more params file.
    """
    extra = write_overrides(spec, namespace) if spec.members else spec.extra_parameters
    kwargs: dict[str, Any] = {
        'package': PACKAGE,
        'executable': spec.executable,
        'namespace': normalize_namespace(namespace),
        'parameters': [*_params_files(params_file), extra],
        'remappings': list(spec.remappings),
        'respawn': spec.respawn,
        'output': 'screen',
    }
    if spec.members:
        kwargs['arguments'] = spec.arguments
    else:
        kwargs['name'] = spec.name
    if spec.respawn:
        kwargs['respawn_delay'] = RESPAWN_DELAY_S
        kwargs['respawn_max_retries'] = RESPAWN_MAX_RETRIES
    return kwargs


def to_command(spec: NodeSpec, namespace: str, params_file: str | Sequence[str],
               python: str = sys.executable, params_dir: str | Path | None = None) -> list[str]:
    """Return the argv that starts spec as its own process.

    Name, namespace, params files, extra parameters and remappings are the same as those of
    :func:`to_launch_kwargs`; respawning is the runner's job (:mod:`dagger_ros.run`). The extra
    parameters go into one more params file, keyed by the node's full name and given last,
    as launch_ros does with a dict: a ``-p`` override would lose to a ``/**/<name>`` section of
    the YAML, since rcl applies the more specific node key after the ``/**`` one.

    Args:
        spec: the node.
        namespace: namespace of the node ('' for none).
        params_file: params YAML file(s), in order (later ones win).
        python: the interpreter that runs the node.
        params_dir: where that file is written (default: a folder under the temp dir).
    """
    argv = [python, '-m', spec.module, *spec.arguments, '--ros-args']
    if not spec.members:
        argv += ['-r', f'__node:={spec.name}']
    ns = normalize_namespace(namespace)
    if ns:
        argv += ['-r', f'__ns:=/{ns}']
    for path in _params_files(params_file):
        argv += ['--params-file', path]
    if spec.parameters or spec.members:
        argv += ['--params-file', write_overrides(spec, ns, params_dir)]
    for source, target in spec.remappings:
        argv += ['-r', f'{source}:={target}']
    return argv


def full_name(spec: NodeSpec, namespace: str) -> str:
    """The node's fully qualified name under namespace."""
    ns = normalize_namespace(namespace)
    return f'/{ns}/{spec.name}' if ns else f'/{spec.name}'


def write_overrides(spec: NodeSpec, namespace: str, params_dir: str | Path | None = None) -> str:
    """Write spec's extra parameters as a params file keyed by its full name; return its path.

    A composed process's file has one section per member.

    Raises:
        ConfigError: for a value with no ROS parameter type (see :func:`format_parameter`).
    """
    nodes = spec.members or (spec,)
    for node in nodes:
        for _, value in node.parameters:
            format_parameter(value)
    text = yaml.safe_dump({full_name(node, namespace): {'ros__parameters': {
        name: list(value) if isinstance(value, tuple) else value
        for name, value in node.parameters}} for node in nodes}, sort_keys=True)
    folder = Path(params_dir) if params_dir else Path(tempfile.gettempdir()) / (
        f'dagger_ros_params_{os.getuid()}')
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    path = folder / f'{spec.name}-{digest}.yaml'
    if not path.exists():
        tmp = path.with_suffix(f'.{os.getpid()}.tmp')
        tmp.write_text(text)
        os.replace(tmp, path)
    return str(path)


def format_parameter(value: Any) -> str:
    """Return value as the YAML text of a ``-p name:=value`` argument.

    Strings are always quoted, so that ``'1'`` or ``'true'`` stay strings.

    Raises:
        ConfigError: for a value with no ROS parameter type (None, dict, NaN, an empty list).
    """
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        text = repr(value)
        # YAML 1.1 (PyYAML) reads 1e-12 as a string; 1.0e-12 is a float to every parser.
        return text.replace('e', '.0e') if 'e' in text and '.' not in text else text
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)) and value:
        return '[' + ', '.join(format_parameter(item) for item in value) + ']'
    raise ConfigError(f'parameter value {value!r} has no ROS parameter type; expected bool, '
                      f'int, finite float, str or a non-empty list of one of them')


def parse_bool(text: str) -> bool:
    """Return a launch-argument boolean ('true'/'false', '1'/'0', any case).

    Raises:
        ConfigError: for any other text.
    """
    lowered = str(text).strip().lower()
    if lowered in ('true', '1', 'yes', 'on'):
        return True
    if lowered in ('false', '0', 'no', 'off', ''):
        return False
    raise ConfigError(f'expected true or false, got {text!r}')


def default_params_file(name: str = 'sim.yaml') -> str:
    """Return the path of config/<name> as installed, else from this source checkout.

    Looks in the ament index (colcon install, or a pip install with AMENT_PREFIX_PATH set),
    then ``<sys.prefix>/share/dagger_ros/config`` (a plain pip install), then the repository.
    """
    candidates: list[Path] = []
    try:
        from ament_index_python.packages import get_package_share_directory
        candidates.append(Path(get_package_share_directory(PACKAGE)) / 'config' / name)
    except (ImportError, LookupError, OSError):  # not installed, not indexed, no index at all
        pass
    candidates.append(Path(sys.prefix) / 'share' / PACKAGE / 'config' / name)
    candidates.append(Path(__file__).resolve().parents[1] / 'config' / name)
    return str(next((path for path in candidates if path.is_file()), candidates[-1]))


# ---------------------------------------------------------------------------------------------
# Launch files: their arguments and nodes, as data, so that each .launch.py stays a thin shell.


@dataclass(frozen=True)
class LaunchArgument:
    """One ``DeclareLaunchArgument`` of a launch file."""

    name: str
    default: str
    description: str


def _common_arguments(algorithm: str) -> list[LaunchArgument]:
    return [
        LaunchArgument('params_file', default_params_file('sim.yaml'),
                       'YAML with one /**/<node> section per node'),
        LaunchArgument('namespace', '', 'namespace of every node and topic (e.g. robot1)'),
        LaunchArgument('algorithm', algorithm, 'dagger, hg_dagger, safe_dagger, '
                       'ensemble_dagger, thrifty_dagger, lazy_dagger, dart, budgeted or async'),
        LaunchArgument('use_sim_time', 'false', 'nodes follow /clock instead of the wall clock'),
        LaunchArgument('composition', 'separate', 'separate (a process per node), composed (the '
                       'control path in one process) or inline (that, and the gate calls the '
                       'executor and expert directly)'),
    ]


def _robot_arguments() -> list[LaunchArgument]:
    return [
        LaunchArgument('observation_topic', 'observation',
                       "the robot's observation topic (the loop's observation is remapped)"),
        LaunchArgument('command_topic', 'command',
                       "the robot's command topic (the loop's command is remapped)"),
    ]


LAUNCH_FILES = ('sim_dagger', 'robot_dagger', 'hg_dagger')


def launch_arguments(launch_file: str) -> list[LaunchArgument]:
    """Return the arguments of launch/<launch_file>.launch.py.

    Raises:
        ConfigError: for a name not in :data:`LAUNCH_FILES`.
    """
    if launch_file == 'sim_dagger':
        return _common_arguments('dagger')
    if launch_file == 'robot_dagger':
        return _common_arguments('hg_dagger') + _robot_arguments() + [
            LaunchArgument('expert', 'human', 'human (gamepad) or scripted')]
    if launch_file == 'hg_dagger':
        return _common_arguments('hg_dagger') + _robot_arguments() + [
            LaunchArgument('world', 'sim', 'sim (gymnasium bridge) or robot'),
            LaunchArgument('gamepad_file', '', 'extra YAML with the gamepad layout, '
                           'e.g. <share>/config/gamepads/xbox.yaml; empty for none')]
    raise ConfigError(f'unknown launch file {launch_file!r}; expected one of {LAUNCH_FILES}')


def _launch_profile(launch_file: str, values: Mapping[str, str]) -> str:
    if launch_file == 'sim_dagger':
        return 'sim'
    if launch_file == 'robot_dagger':
        return _choose(values['expert'], {'human': 'robot', 'scripted': 'robot_scripted'},
                       'expert')
    return _choose(values['world'], {'sim': 'sim_human', 'robot': 'robot'}, 'world')


def _choose(value: str, options: Mapping[str, str], what: str) -> str:
    if value not in options:
        raise ConfigError(f'{what}:={value!r} is not one of {sorted(options)}')
    return options[value]


def launch_node_kwargs(launch_file: str, values: Mapping[str, str]) -> list[dict[str, Any]]:
    """Return the ``launch_ros.actions.Node`` kwargs of a launch file, given its argument values.

    Args:
        launch_file: one of :data:`LAUNCH_FILES`.
        values: every argument of :func:`launch_arguments` as the text launch resolved.
    """
    profile = _launch_profile(launch_file, values)
    remap = {}
    if PROFILES[profile].world == 'robot':
        remap = {'observation': values['observation_topic'], 'command': values['command_topic']}
    specs = dagger_graph(profile, algorithm=values['algorithm'] or None, remap=remap,
                         use_sim_time=parse_bool(values['use_sim_time']),
                         composition=values['composition'])
    files = [values['params_file'], values.get('gamepad_file', '')]
    return [to_launch_kwargs(spec, values['namespace'], files) for spec in specs]


def launch_configuration_names(launch_file: str) -> Iterable[str]:
    """The names of a launch file's arguments (what its OpaqueFunction must resolve)."""
    return [argument.name for argument in launch_arguments(launch_file)]


def launch_description(launch_file: str) -> Any:
    """The LaunchDescription of one of LAUNCH_FILES: its arguments, then its nodes.

    launch and launch_ros are imported here, not at the top: they exist on robots (from
    /opt/ros) but not on PyPI, and the rest of this module must import without them.
    """
    from launch import LaunchDescription
    from launch.actions import DeclareLaunchArgument, OpaqueFunction
    from launch.substitutions import LaunchConfiguration
    from launch_ros.actions import Node

    def nodes(context: Any, *args: Any, **kwargs: Any) -> list[Any]:
        values = {name: LaunchConfiguration(name).perform(context)
                  for name in launch_configuration_names(launch_file)}
        return [Node(**node_kwargs) for node_kwargs in launch_node_kwargs(launch_file, values)]

    arguments = [DeclareLaunchArgument(arg.name, default_value=arg.default,
                                       description=arg.description)
                 for arg in launch_arguments(launch_file)]
    return LaunchDescription([*arguments, OpaqueFunction(function=nodes)])
