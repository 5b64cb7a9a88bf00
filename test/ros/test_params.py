"""A frozen dataclass mirrored as ROS parameters: descriptors, startup errors, validated updates.

The dataclasses here are small examples standing in for the real component configs: they use
each supported field kind (scalars, arrays, a fixed-length pair, a nested config) and a
``__post_init__`` that refuses some values, as the real ones do.
"""

from dataclasses import dataclass
from dataclasses import field

import pytest
from rcl_interfaces.msg import ParameterType
from rclpy.node import Node
from rclpy.parameter import Parameter

from dagger_ros.core.errors import ConfigError
from dagger_ros.ros.params import config_fields
from dagger_ros.ros.params import declare_config
from dagger_ros.ros.params import to_parameter_dict

pytestmark = [pytest.mark.ros, pytest.mark.timeout(60)]


def _meta(description, unit='', lo=None, hi=None, **extra):
    return {'description': description, 'unit': unit, 'range': (lo, hi), **extra}


@dataclass(frozen=True)
class FilterConfig:
    gain: float = field(default=1.0, metadata=_meta('low-pass gain', '', 0.0, 1.0))


@dataclass(frozen=True)
class ExampleConfig:
    rate_hz: float = field(default=50.0, metadata=_meta('control rate', 'Hz', 1.0, 1000.0))
    takeover_button: int = field(default=5, metadata=_meta('button that takes over', '', 0, 31))
    stale_timeout_s: float = field(default=0.1, metadata=_meta('input age limit', 's', 0.0))
    fallback: str = field(default='zero', metadata=_meta('zero or hold'))
    enabled: bool = True
    obs_dim: int = field(default=3, metadata=_meta('observation size', '', 1))
    hidden_sizes: tuple[int, ...] = field(default=(64, 64), metadata=_meta('MLP widths', '', 1))
    scale: tuple[float, ...] = ()
    bounds: tuple[float, float] = (-1.0, 1.0)
    topic: str = field(default='command', metadata=_meta('output topic', read_only=True))
    filter: FilterConfig = field(default_factory=FilterConfig)

    def __post_init__(self):
        if self.fallback not in ('zero', 'hold'):
            raise ConfigError(f"fallback must be 'zero' or 'hold', got {self.fallback!r}")
        if not self.bounds[0] < self.bounds[1]:
            raise ConfigError(f'bounds must have low < high, got {self.bounds}')


@dataclass(frozen=True)
class RequiredConfig:
    obs_dim: int


def _node(ctx, overrides=(), cli_args=None):
    return Node('example_node', context=ctx, cli_args=cli_args,
                parameter_overrides=[Parameter(k, value=v) for k, v in dict(overrides).items()])


class Changes(list):
    """Records the configs on_change receives."""

    def __call__(self, cfg):
        self.append(cfg)


def test_defaults_come_back_and_every_field_is_declared_with_its_descriptor(ros_ctx):
    node = _node(ros_ctx)

    cfg = declare_config(node, ExampleConfig, prefix='example', read_only=('obs_dim',),
                         on_change=Changes())

    assert cfg == ExampleConfig()
    names = {f.name for f in config_fields(ExampleConfig, 'example')}
    assert set(node.list_parameters(['example'], 0).names) == names
    assert len(names) == 11
    rate = node.describe_parameter('example.rate_hz')
    assert rate.description == 'control rate [Hz]'
    assert (rate.floating_point_range[0].from_value, rate.floating_point_range[0].to_value) == (
        1.0, 1000.0)
    button = node.describe_parameter('example.takeover_button')
    assert (button.integer_range[0].from_value, button.integer_range[0].to_value) == (0, 31)
    assert node.describe_parameter('example.stale_timeout_s').additional_constraints == '>= 0.0'
    assert node.describe_parameter('example.obs_dim').read_only
    assert node.describe_parameter('example.topic').read_only
    assert not node.describe_parameter('example.rate_hz').read_only
    types = {name: node.describe_parameter(f'example.{name}').type
             for name in ('hidden_sizes', 'scale')}
    assert types == {'hidden_sizes': ParameterType.PARAMETER_INTEGER_ARRAY,
                     'scale': ParameterType.PARAMETER_DOUBLE_ARRAY}
    assert node.has_parameter('example.filter.gain')


def test_overrides_are_read_back_into_typed_tuples_and_nested_configs(ros_ctx):
    wanted = ExampleConfig(rate_hz=20.0, hidden_sizes=(8,), scale=(0.5, 2.0), bounds=(-2.0, 3.0),
                           fallback='hold', filter=FilterConfig(gain=0.25))
    node = _node(ros_ctx, to_parameter_dict(wanted, 'example'))

    cfg = declare_config(node, ExampleConfig, prefix='example')

    assert cfg == wanted
    assert isinstance(cfg.hidden_sizes, tuple) and isinstance(cfg.scale[0], float)


@pytest.mark.parametrize('name, value, match', [
    ('example.rate_hz', 0.5, r'example.rate_hz.*out of range'),
    ('example.takeover_button', 40, r'example.takeover_button.*out of range'),
    ('example.stale_timeout_s', -1.0, r"'example.stale_timeout_s' = -1.0 is out of range; "
                                      r'expected >= 0.0'),
    ('example.hidden_sizes', [64, 0], r"'example.hidden_sizes' = 0 is out of range"),
    ('example.bounds', [0.0, 1.0, 2.0], r"'example.bounds' has 3 elements, expected 2"),
    ('example.rate_hz', float('nan'), r'example.rate_hz'),
    ('example.rate_hz', 50, r"'example.rate_hz' expects a double.*write 1.0, not 1"),
    ('example.fallback', 'brake', r'ExampleConfig from parameters example.\* is invalid: '
                                  r"fallback must be 'zero' or 'hold', got 'brake'"),
])
def test_bad_startup_value_raises_config_error_naming_it(ros_ctx, name, value, match):
    node = _node(ros_ctx, {name: value})
    with pytest.raises(ConfigError, match=match):
        declare_config(node, ExampleConfig, prefix='example')


def test_bad_value_from_a_params_file_raises_before_spinning(ros_ctx, tmp_path):
    params = tmp_path / 'params.yaml'
    params.write_text('example_node:\n  ros__parameters:\n    example:\n      rate_hz: 5000.0\n')
    node = _node(ros_ctx, cli_args=['--ros-args', '--params-file', str(params)])
    with pytest.raises(ConfigError, match='example.rate_hz'):
        declare_config(node, ExampleConfig, prefix='example')


def test_bad_value_from_the_command_line_raises_before_spinning(ros_ctx):
    node = _node(ros_ctx, cli_args=['--ros-args', '-p', 'example.takeover_button:=-3'])
    with pytest.raises(ConfigError, match='example.takeover_button'):
        declare_config(node, ExampleConfig, prefix='example')


def test_required_field_must_be_set(ros_ctx):
    with pytest.raises(ConfigError, match=r"'obs_dim' is required.*-p obs_dim:=VALUE"):
        declare_config(_node(ros_ctx), RequiredConfig)
    cfg = declare_config(_node(ros_ctx, {'obs_dim': 4}), RequiredConfig)
    assert cfg == RequiredConfig(obs_dim=4)


def test_accepted_update_reaches_on_change(ros_ctx):
    node = _node(ros_ctx)
    changes = Changes()
    declare_config(node, ExampleConfig, prefix='example', on_change=changes)

    result, = node.set_parameters([Parameter('example.rate_hz', value=100.0)])
    result_nested, = node.set_parameters([Parameter('example.filter.gain', value=0.5)])

    assert result.successful and result_nested.successful
    assert changes == [ExampleConfig(rate_hz=100.0),
                       ExampleConfig(rate_hz=100.0, filter=FilterConfig(gain=0.5))]


@pytest.mark.parametrize('name, value, reason', [
    ('example.fallback', 'brake', "fallback must be 'zero' or 'hold'"),
    ('example.bounds', [1.0, -1.0], 'bounds must have low < high'),
    ('example.stale_timeout_s', -0.5, 'out of range'),
    ('example.rate_hz', 0.1, 'out of range'),
    ('example.filter.gain', 2.0, 'out of range'),
    ('example.obs_dim', 4, 'read-only'),
    ('example.topic', 'cmd_vel', 'read-only'),
])
def test_refused_update_returns_reason_and_keeps_config(ros_ctx, name, value, reason):
    node = _node(ros_ctx)
    changes = Changes()
    declare_config(node, ExampleConfig, prefix='example', read_only=('obs_dim',),
                   on_change=changes)
    before = node.get_parameter(name).value

    result, = node.set_parameters([Parameter(name, value=value)])

    assert not result.successful
    assert reason in result.reason
    assert changes == []
    assert node.get_parameter(name).value == before


def test_atomic_update_is_validated_as_a_whole(ros_ctx):
    node = _node(ros_ctx)
    changes = Changes()
    declare_config(node, ExampleConfig, prefix='example', on_change=changes)

    result = node.set_parameters_atomically([
        Parameter('example.rate_hz', value=10.0), Parameter('example.fallback', value='hold')])

    assert result.successful
    assert changes[-1] == ExampleConfig(rate_hz=10.0, fallback='hold')


def test_without_on_change_every_field_is_read_only(ros_ctx):
    node = _node(ros_ctx)
    declare_config(node, ExampleConfig, prefix='example')

    result, = node.set_parameters([Parameter('example.rate_hz', value=100.0)])

    assert not result.successful and 'read-only' in result.reason


def test_other_parameters_of_the_node_are_left_alone(ros_ctx):
    node = _node(ros_ctx)
    declare_config(node, ExampleConfig, prefix='example', on_change=Changes())
    node.declare_parameter('unrelated', 1)

    result, = node.set_parameters([Parameter('unrelated', value=-100)])

    assert result.successful


def test_two_configs_on_one_node_validate_independently(ros_ctx):
    node = _node(ros_ctx)
    first, second = Changes(), Changes()
    declare_config(node, ExampleConfig, prefix='a', on_change=first)
    declare_config(node, FilterConfig, prefix='b', on_change=second)

    assert node.set_parameters([Parameter('b.gain', value=0.75)])[0].successful

    assert first == [] and second == [FilterConfig(gain=0.75)]


def test_field_type_without_a_parameter_type_is_named():
    @dataclass(frozen=True)
    class Bad:
        limits: dict = field(default_factory=dict)

    with pytest.raises(ConfigError, match=r"parameter 'bad.limits' has type <class 'dict'>"):
        config_fields(Bad, 'bad')
