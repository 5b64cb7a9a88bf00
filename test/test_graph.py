"""The node graph declared once: both derivations (launch kwargs, subprocess argv) agree.

launch and launch_ros are not on PyPI, so they are not installed where these tests run. The
launch files are therefore loaded with minimal stand-ins for ``launch`` / ``launch_ros`` put
into sys.modules for the test: they record what each action was constructed with, and
OpaqueFunction is called with a context whose launch configurations hold the argument values,
as launch would do. What the stand-ins record is then compared with graph.py's derivations.
"""

import importlib.util
import json
from pathlib import Path
import shlex
import sys
import types

import pytest
from rclpy.node import Node
import yaml

from dagger_ros import graph
from dagger_ros import run
from dagger_ros.core.errors import ConfigError
from dagger_ros.ros import topics
from dagger_ros.ros.testing import private_context

pytestmark = pytest.mark.timeout(60)

REPO = Path(__file__).resolve().parents[1]
NAMESPACES = ['', 'robot1', '/lab/robot2/']


def parse_command(argv):
    """Read back what a to_command argv tells ROS: name, namespace, files, params, remaps."""
    assert argv[1] == '-m' and argv[3] == '--ros-args'
    result = {'module': argv[2], 'namespace': '/', 'params_files': [], 'parameters': {},
              'remappings': []}
    flags = argv[4:]
    overrides = {}
    for flag, value in zip(flags[::2], flags[1::2]):
        if flag == '--params-file' and 'dagger_ros_params_' in value:
            overrides = yaml.safe_load(Path(value).read_text())
        elif flag == '-p':
            name, _, text = value.partition(':=')
            result['parameters'][name] = yaml.safe_load(text)
        elif value.startswith('__node:='):
            result['name'] = value.split(':=')[1]
        elif value.startswith('__ns:='):
            result['namespace'] = value.split(':=')[1]
        elif flag == '--params-file':
            result['params_files'].append(value)
        else:
            assert flag == '-r', argv
            result['remappings'].append(tuple(value.split(':=')))
    if overrides:
        fqn = result['namespace'].rstrip('/') + '/' + result['name']
        assert list(overrides) == [fqn], 'the overrides are keyed by the full node name'
        result['parameters'] = overrides[fqn]['ros__parameters']
    return result


def summarize_launch(kwargs):
    """The same facts from launch_ros.actions.Node kwargs."""
    *files, extra = kwargs['parameters']
    return {'module': f"dagger_ros.nodes.{kwargs['executable'][:-len('_node')]}",
            'name': kwargs['name'], 'namespace': '/' + kwargs['namespace'],
            'params_files': files, 'parameters': extra, 'remappings': kwargs['remappings']}


@pytest.mark.parametrize('namespace', NAMESPACES)
@pytest.mark.parametrize('profile', sorted(graph.PROFILES))
def test_launch_kwargs_and_command_agree(profile, namespace):
    specs = graph.dagger_graph(profile, overrides={'*': {'rate_hz': 50.0, 'label': 'true'}},
                               remap={'command': '/arm/cmd'}, use_sim_time=True)
    files = ['/cfg/sim.yaml', '/cfg/pad.yaml']
    for spec in specs:
        launch = graph.to_launch_kwargs(spec, namespace, files)
        command = graph.to_command(spec, namespace, files, python='python3')

        assert summarize_launch(launch) == parse_command(command)
        assert launch['package'] == 'dagger_ros' and launch['output'] == 'screen'
        assert launch['respawn'] == spec.respawn
        assert launch['parameters'][-1]['label'] == 'true', 'a string stays a string'


def parse_composed_command(argv):
    """What a composed process's argv tells ROS: words, namespace, files, member params."""
    split = argv.index('--ros-args')
    flags = argv[split + 1:]
    pairs = list(zip(flags[::2], flags[1::2]))
    namespace = next((value.split(':=')[1] for _, value in pairs
                      if value.startswith('__ns:=')), '/')
    assert not any(value.startswith('__node:=') for _, value in pairs), \
        'a __node remap would rename every node of the process'
    return {'module': argv[2], 'words': argv[3:split], 'namespace': namespace,
            'params_files': [value for flag, value in pairs if flag == '--params-file'],
            'remappings': [tuple(value.split(':=')) for flag, value in pairs
                           if flag == '-r' and not value.startswith('__ns:=')]}


@pytest.mark.parametrize('namespace', NAMESPACES)
@pytest.mark.parametrize('profile', sorted(graph.PROFILES))
@pytest.mark.parametrize('composition', ['composed', 'inline'])
def test_composed_launch_kwargs_and_command_agree(profile, namespace, composition):
    specs = graph.dagger_graph(profile, overrides={'expert_gate': {'rate_hz': 50.0}},
                               remap={'command': '/arm/cmd'}, composition=composition)
    process = next(spec for spec in specs if spec.members)
    files = ['/cfg/sim.yaml']

    launch = graph.to_launch_kwargs(process, namespace, files)
    command = parse_composed_command(graph.to_command(process, namespace, files))

    assert 'name' not in launch, 'a node name would rename every node of the process'
    assert command == {'module': 'dagger_ros.nodes.composed', 'words': launch['arguments'],
                       'namespace': '/' + launch['namespace'],
                       'params_files': launch['parameters'],
                       'remappings': launch['remappings']}
    assert launch['executable'] == 'composed_node' and not launch['respawn']
    # the last file holds a section per member, keyed by its full name
    sections = yaml.safe_load(Path(launch['parameters'][-1]).read_text())
    assert sorted(sections) == sorted(graph.full_name(m, namespace) for m in process.members)
    gate = sections[graph.full_name(process.members[-1], namespace)]['ros__parameters']
    assert gate['rate_hz'] == 50.0


def test_composition_puts_the_control_path_in_one_process():
    def layout(profile, composition):
        return [(spec.name, spec.arguments) for spec in
                graph.dagger_graph(profile, composition=composition)]

    control = ['policy_executor', 'scripted_expert', 'expert_gate']
    assert layout('sim', 'composed') == [('sim_bridge', []), ('control', control),
                                         ('trainer', [])]
    assert layout('sim', 'inline') == [('sim_bridge', []),
                                       ('control', ['--inline', '--executor', 'events', *control]),
                                       ('trainer', [])]
    # a person's gamepad stays its own process; the gate then calls only the executor
    assert layout('robot', 'inline') == [
        ('control', ['--inline', '--executor', 'events', 'policy_executor', 'expert_gate']),
        ('gamepad', []), ('live_view', []), ('trainer', [])]
    separate = graph.dagger_graph('sim')
    members = next(spec for spec in graph.dagger_graph('sim', composition='composed')
                   if spec.members).members
    assert list(members) == [spec for spec in separate if spec.name in control]


def test_unknown_composition_is_named():
    with pytest.raises(ConfigError, match=r"unknown composition 'fused'; expected one of "
                                          r"\['separate', 'composed', 'inline'\]"):
        graph.dagger_graph('sim', composition='fused')


def test_profiles_have_the_right_nodes():
    def names(profile):
        return [spec.name for spec in graph.dagger_graph(profile)]

    assert names('sim') == ['sim_bridge', 'policy_executor', 'scripted_expert', 'expert_gate',
                            'trainer']
    assert names('sim_human') == ['sim_bridge', 'policy_executor', 'gamepad', 'live_view',
                                  'expert_gate', 'trainer']
    assert names('robot') == ['policy_executor', 'gamepad', 'live_view', 'expert_gate',
                              'trainer']
    assert names('robot_scripted') == ['policy_executor', 'scripted_expert', 'expert_gate',
                                       'trainer']


def test_a_person_gets_the_gamepad_a_live_view_and_a_real_time_simulation():
    specs = {spec.name: spec.extra_parameters for spec in graph.dagger_graph('sim_human')}
    assert specs['expert_gate']['human_input'] == 'joy'
    assert specs['expert_gate']['mode'] == specs['sim_bridge']['mode'] == 'realtime'
    assert specs['sim_bridge']['render_hz'] > 0
    robot = {spec.name: spec.extra_parameters for spec in graph.dagger_graph('robot')}
    assert robot['expert_gate']['mode'] == 'realtime', 'a robot sends no lockstep seq tags'


@pytest.mark.parametrize('profile', sorted(graph.PROFILES))
def test_every_spec_is_a_role_node_with_its_own_yaml_section(profile):
    specs = graph.dagger_graph(profile)
    assert len({spec.name for spec in specs}) == len(specs)
    for spec in specs:
        assert spec.executable == f'{spec.name}_node'
        assert spec.parameters_key == spec.name
        assert spec.module == f'dagger_ros.nodes.{spec.name}'


def test_only_clock_is_an_absolute_topic_name():
    assert all(topics.is_relative(name) for name in topics.RELATIVE)
    assert not topics.is_relative(topics.CLOCK)
    assert len(set(topics.ALL)) == len(topics.ALL)
    public = {value for key, value in vars(topics).items() if key.isupper()
              and isinstance(value, str)}
    assert public == set(topics.ALL)


def test_the_graph_itself_adds_no_absolute_topic_names():
    for profile in graph.PROFILES:
        for spec in graph.dagger_graph(profile):
            assert spec.remappings == ()


def test_algorithm_defaults_per_profile_and_reaches_only_loop_nodes():
    sim = {spec.name: spec.extra_parameters for spec in graph.dagger_graph('sim')}
    human = graph.dagger_graph('sim_human', algorithm=None)

    assert sim['policy_executor']['algorithm'] == 'dagger'
    assert 'algorithm' not in sim['sim_bridge']
    assert human[1].extra_parameters['algorithm'] == 'hg_dagger'
    chosen = graph.dagger_graph('sim', algorithm='ensemble_dagger')
    assert {s.extra_parameters.get('algorithm') for s in chosen} == {'ensemble_dagger', None}


def test_per_node_overrides_win_over_star():
    specs = graph.dagger_graph('sim', overrides={'*': {'x': 1}, 'trainer': {'x': 2}})
    values = {spec.name: spec.extra_parameters['x'] for spec in specs}
    assert values == {'sim_bridge': 1, 'policy_executor': 1, 'scripted_expert': 1,
                      'expert_gate': 1, 'trainer': 2}


@pytest.mark.parametrize('kwargs, match', [
    ({'profile': 'mars'}, "unknown profile 'mars'"),
    ({'profile': 'robot', 'overrides': {'sim_bridge': {'x': 1}}},
     r"overrides for \['sim_bridge'\]"),
    ({'remap': {'observation': 'bad topic'}}, "'bad topic' is not a valid ROS topic name"),
])
def test_bad_graph_arguments_are_named(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        graph.dagger_graph(**kwargs)


@pytest.mark.parametrize('namespace', ['robot 1', '1robot', 'a//b/c-d'])
def test_bad_namespace_is_named(namespace):
    spec = graph.dagger_graph('sim')[0]
    with pytest.raises(ConfigError, match='namespace'):
        graph.to_command(spec, namespace, [])


@pytest.mark.parametrize('value', [True, False, 0, -7, 0.5, 1e-12, -2.5e20, 3.0, 'dagger', '1',
                                   'true',
                                   '', 'a "quoted": value', [1, 2], [0.5], ['a', 'on'],
                                   [True, False]])
def test_parameter_text_reads_back_as_the_same_value_and_type(value):
    back = yaml.safe_load(graph.format_parameter(value))
    assert back == value and type(back) is type(value)


@pytest.mark.parametrize('value', [None, {'a': 1}, float('nan'), float('inf'), []])
def test_values_without_a_parameter_type_are_refused(value):
    with pytest.raises(ConfigError, match='no ROS parameter type'):
        graph.format_parameter(value)


@pytest.mark.parametrize('text, expected', [('true', True), ('False', False), ('1', True),
                                            ('0', False)])
def test_parse_bool(text, expected):
    assert graph.parse_bool(text) is expected


def test_parse_bool_refuses_other_text():
    with pytest.raises(ConfigError, match="expected true or false, got 'maybe'"):
        graph.parse_bool('maybe')


def test_default_params_file_falls_back_to_the_checkout(monkeypatch):
    monkeypatch.delenv('AMENT_PREFIX_PATH', raising=False)
    path = graph.default_params_file('no_such.yaml')
    assert path == str(REPO / 'config' / 'no_such.yaml')


@pytest.mark.ros
def test_command_arguments_mean_to_ros_what_the_graph_says(tmp_path):
    # GIVEN a params file keyed /**/<name>, and a namespaced, remapped policy executor
    params = tmp_path / 'sim.yaml'
    params.write_text('/**/policy_executor:\n  ros__parameters:\n    rate_hz: 20.0\n'
                      '    label: from_yaml\n')
    spec = graph.dagger_graph('robot', remap={'observation': '/arm/joint_obs'},
                              overrides={'policy_executor': {'label': '1', 'tiny': 1e-12,
                                                             'sizes': [64, 32]}})[0]
    argv = graph.to_command(spec, 'lab/robot1', [str(params)])

    # WHEN rclpy parses the --ros-args part
    with private_context() as ctx:
        node = Node('placeholder', context=ctx, cli_args=argv[argv.index('--ros-args'):])

        # THEN name, namespace, YAML, -p values and remaps all arrive
        assert node.get_fully_qualified_name() == '/lab/robot1/policy_executor'
        assert node.declare_parameter('rate_hz', 0.0).value == 20.0
        assert node.declare_parameter('label', '').value == '1'
        assert node.declare_parameter('tiny', 0.0).value == 1e-12
        assert list(node.declare_parameter('sizes', [0]).value) == [64, 32]
        assert node.declare_parameter('algorithm', '').value == 'hg_dagger'
        assert node.get_parameter('use_sim_time').value is False
        assert node.resolve_topic_name(topics.OBSERVATION) == '/arm/joint_obs'
        assert node.resolve_topic_name(topics.COMMAND) == '/lab/robot1/command'


@pytest.mark.ros
def test_composed_command_gives_each_member_its_own_parameters(tmp_path):
    # GIVEN the inline process of the sim graph, namespaced, with one gate override
    specs = graph.dagger_graph('sim', overrides={'expert_gate': {'rate_hz': 7.0}},
                               composition='inline')
    argv = graph.to_command(specs[1], 'sim1', [graph.default_params_file('sim.yaml')],
                            params_dir=tmp_path)
    cli_args = argv[argv.index('--ros-args'):]

    # WHEN each member node is made with that process's arguments
    with private_context() as ctx:
        gate = Node('expert_gate', context=ctx, cli_args=cli_args)
        executor = Node('policy_executor', context=ctx, cli_args=cli_args)

        # THEN each keeps its name, under the namespace, with its own parameters
        assert gate.get_fully_qualified_name() == '/sim1/expert_gate'
        assert executor.get_fully_qualified_name() == '/sim1/policy_executor'
        assert gate.declare_parameter('rate_hz', 0.0).value == 7.0
        assert executor.declare_parameter('rate_hz', 0.0).value != 7.0
        assert executor.declare_parameter('algorithm', '').value == 'dagger'


def test_runner_dry_run_prints_the_graph_commands(capsys):
    assert run.main(['--dry-run', '--profile', 'sim_human', '--namespace', 'r2',
                     '--params-file', 'a.yaml', '--set', 'trainer.epochs=3']) == 0

    lines = capsys.readouterr().out.splitlines()
    specs = graph.dagger_graph('sim_human', overrides={'trainer': {'epochs': 3}})
    assert [shlex.split(line) for line in lines] == [
        graph.to_command(spec, 'r2', ['a.yaml']) for spec in specs]


# ---------------------------------------------------------------------------------------------
# Launch files, through stand-ins for launch / launch_ros.


class _Recorded:
    """An action stand-in: keeps its positional and keyword arguments."""

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


class _LaunchConfiguration:
    """LaunchConfiguration stand-in: performs to the context's value."""

    def __init__(self, name):
        self.name = name

    def perform(self, context):
        return context.launch_configurations[self.name]


@pytest.fixture
def fake_launch(monkeypatch):
    """Minimal launch / launch_ros modules in sys.modules for the duration of a test."""
    modules = {
        'launch': {'LaunchDescription': _Recorded},
        'launch.actions': {'DeclareLaunchArgument': _Recorded, 'OpaqueFunction': _Recorded},
        'launch.substitutions': {'LaunchConfiguration': _LaunchConfiguration},
        'launch_ros': {},
        'launch_ros.actions': {'Node': _Recorded},
    }
    for name, attrs in modules.items():
        module = types.ModuleType(name)
        module.__dict__.update(attrs)
        monkeypatch.setitem(sys.modules, name, module)


def _run_launch_file(name, arguments):
    """Load launch/<name>.launch.py, declare its arguments, resolve them, return its Nodes."""
    path = REPO / 'launch' / f'{name}.launch.py'
    spec = importlib.util.spec_from_file_location(f'_launch_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    description = module.generate_launch_description()
    entities = description.args[0]
    declared = {e.args[0]: e.kwargs['default_value'] for e in entities[:-1]}
    unknown = set(arguments) - set(declared)
    assert not unknown, f'{name} declares no {unknown}'
    context = types.SimpleNamespace(launch_configurations={**declared, **arguments})
    opaque = entities[-1]
    nodes = opaque.kwargs['function'](context)
    return declared, [node.kwargs for node in nodes]


LAUNCH_CASES = [
    ('sim_dagger', {}, 'sim', {}),
    ('sim_dagger', {'namespace': 'sim1', 'algorithm': 'safe_dagger', 'use_sim_time': 'true'},
     'sim', {}),
    ('robot_dagger', {'observation_topic': '/arm/obs', 'command_topic': '/arm/cmd'}, 'robot',
     {'observation': '/arm/obs', 'command': '/arm/cmd'}),
    ('robot_dagger', {'expert': 'scripted'}, 'robot_scripted', {}),
    ('hg_dagger', {'gamepad_file': '/cfg/xbox.yaml'}, 'sim_human', {}),
    ('hg_dagger', {'world': 'robot', 'command_topic': 'cmd_vel'}, 'robot',
     {'command': 'cmd_vel'}),
    ('sim_dagger', {'composition': 'inline', 'namespace': 'sim2'}, 'sim', {}),
    ('robot_dagger', {'composition': 'composed'}, 'robot', {}),
]


@pytest.mark.parametrize('name, arguments, profile, remap', LAUNCH_CASES)
def test_launch_file_builds_its_nodes_from_the_graph(fake_launch, name, arguments, profile,
                                                     remap):
    declared, nodes = _run_launch_file(name, arguments)

    values = {**declared, **arguments}
    specs = graph.dagger_graph(profile, algorithm=values['algorithm'], remap=remap,
                               use_sim_time=values['use_sim_time'] == 'true',
                               composition=values['composition'])
    files = [values['params_file'], values.get('gamepad_file', '')]
    assert nodes == [graph.to_launch_kwargs(spec, values['namespace'], files) for spec in specs]
    assert declared == {a.name: a.default for a in graph.launch_arguments(name)}


@pytest.mark.parametrize('name', graph.LAUNCH_FILES)
def test_launch_file_defaults(fake_launch, name):
    declared, nodes = _run_launch_file(name, {})

    assert declared['params_file'] == graph.default_params_file('sim.yaml')
    assert declared['params_file'].endswith(str(Path('config', 'sim.yaml')))
    assert declared['namespace'] == '' and declared['use_sim_time'] == 'false'
    assert declared['composition'] == 'separate'
    assert all(node['parameters'][0] == declared['params_file'] for node in nodes)
    assert all(node['remappings'] == [] for node in nodes)


def test_launch_file_refuses_an_unknown_choice(fake_launch):
    with pytest.raises(ConfigError, match=r"world:='moon' is not one of \['robot', 'sim'\]"):
        _run_launch_file('hg_dagger', {'world': 'moon'})
    with pytest.raises(ConfigError, match=r"unknown composition 'fused'"):
        _run_launch_file('sim_dagger', {'composition': 'fused'})


def test_every_launch_file_is_covered():
    on_disk = {path.name[:-len('.launch.py')] for path in (REPO / 'launch').glob('*.launch.py')}
    assert set(graph.LAUNCH_FILES) <= on_disk
    for name in graph.LAUNCH_FILES:
        source = (REPO / 'launch' / f'{name}.launch.py').read_text()
        assert 'from dagger_ros import graph' in source
        assert json.dumps(name).strip('"') in source
