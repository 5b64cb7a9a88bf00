"""A frozen config dataclass, mirrored as declared and described ROS parameters.

:func:`declare_config` declares one parameter per dataclass field (``prefix.field``; nested
dataclass fields become ``prefix.outer.inner``), reads the values back (YAML and ``-p`` overrides
included) into a validated instance, and keeps later ``ros2 param set`` updates honest:

* the field's ``metadata`` gives the descriptor: ``description`` (+ ``unit``), and ``range``
  ``(lo, hi)``: both ends set becomes a FloatingPointRange/IntegerRange that ROS shows and
  enforces; either end is also checked here (arrays element by element), NaN is always refused;
* a field listed in ``read_only`` (structural: dims, topic names) or with
  ``metadata['read_only']`` is read-only;
* an update is validated by building the candidate with :func:`dataclasses.replace`, so the
  dataclass' ``__post_init__`` decides; a refusal returns ``SetParametersResult(successful=False,
  reason=...)``; an accepted update reaches the node through ``on_change(new_cfg)``.
  Without on_change every field is read-only, since nobody would apply the new value.

Bad startup values raise :class:`ConfigError` naming the parameter, before the node spins.
Field types: bool, int, float, str, tuples of one of those (ROS array parameters), and nested
frozen dataclasses. A field with no default is a required parameter (YAML or ``-p`` must set it).
"""

from __future__ import annotations

import dataclasses
import math
import typing
from typing import Any, Callable, Iterable, Mapping, TypeVar

from rcl_interfaces.msg import FloatingPointRange
from rcl_interfaces.msg import IntegerRange
from rcl_interfaces.msg import ParameterDescriptor
from rcl_interfaces.msg import SetParametersResult
from rclpy.exceptions import InvalidParameterTypeException
from rclpy.exceptions import InvalidParameterValueException
from rclpy.node import Node
from rclpy.parameter import Parameter

from dagger_ros.core.errors import ConfigError

T = TypeVar('T')
_Type = Parameter.Type
_SCALAR_TYPES = {bool: _Type.BOOL, int: _Type.INTEGER, float: _Type.DOUBLE, str: _Type.STRING}
_ARRAY_TYPES = {bool: _Type.BOOL_ARRAY, int: _Type.INTEGER_ARRAY, float: _Type.DOUBLE_ARRAY,
                str: _Type.STRING_ARRAY}


@dataclasses.dataclass(frozen=True)
class ParamField:
    """One dataclass field as a ROS parameter.

    Attributes:
        name: full parameter name (``prefix.path``).
        path: attribute names from the top dataclass down to the field.
        ros_type: the parameter type.
        item_type: Python type of the value (of each element for arrays).
        length: required tuple length (``tuple[float, float]``), or None for any length.
        default: the dataclass default, or ``dataclasses.MISSING`` for a required parameter.
        metadata: the field's metadata (description, unit, range, read_only).
    """

    name: str
    path: tuple[str, ...]
    ros_type: Parameter.Type
    item_type: type
    length: int | None
    default: Any
    metadata: Mapping[str, Any]

    @property
    def is_array(self) -> bool:
        """True for a tuple field (a ROS array parameter)."""
        return self.ros_type in _ARRAY_TYPES.values()

    @property
    def bounds(self) -> tuple[float | None, float | None]:
        """The (lo, hi) range from metadata; None for an open end."""
        lo, hi = tuple(self.metadata.get('range') or (None, None))
        return lo, hi


def config_fields(cls: type, prefix: str = '') -> list[ParamField]:
    """Return the parameters of a (possibly nested) frozen dataclass, in declaration order.

    Raises:
        ConfigError: for a field whose type has no ROS parameter type.
    """
    if not dataclasses.is_dataclass(cls):
        raise ConfigError(f'expected a dataclass type, got {cls!r}')
    hints = typing.get_type_hints(cls)
    result: list[ParamField] = []
    for field in dataclasses.fields(cls):
        name = f'{prefix}.{field.name}' if prefix else field.name
        hint = hints[field.name]
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            result += [dataclasses.replace(inner, path=(field.name,) + inner.path)
                       for inner in config_fields(hint, name)]
            continue
        ros_type, item_type, length = _ros_type(hint, name)
        result.append(ParamField(name, (field.name,), ros_type, item_type, length,
                                 _field_default(field), field.metadata))
    return result


def _field_default(field: dataclasses.Field) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return dataclasses.MISSING


def _ros_type(hint: Any, name: str) -> tuple[Parameter.Type, type, int | None]:
    if hint in _SCALAR_TYPES:
        return _SCALAR_TYPES[hint], hint, None
    args = typing.get_args(hint)
    if typing.get_origin(hint) is tuple and args:
        if len(args) == 2 and args[1] is Ellipsis:
            item, length = args[0], None
        else:
            item, length = args[0], len(args)
        if item in _ARRAY_TYPES and all(arg in (item, Ellipsis) for arg in args):
            return _ARRAY_TYPES[item], item, length
    raise ConfigError(f'parameter {name!r} has type {hint}, which maps to no ROS parameter '
                      f'type; expected bool, int, float, str, a tuple of one of them, or a '
                      f'dataclass')


def descriptor_for(field: ParamField, read_only: bool = False) -> ParameterDescriptor:
    """Return the ParameterDescriptor of a field: description with unit, range, read-only."""
    text = field.metadata.get('description', '')
    unit = field.metadata.get('unit', '')
    descriptor = ParameterDescriptor(
        description=f'{text} [{unit}]' if unit else text, read_only=read_only,
        additional_constraints=_constraints_text(field))
    lo, hi = field.bounds
    if lo is not None and hi is not None:
        if field.ros_type == _Type.DOUBLE:
            descriptor.floating_point_range = [
                FloatingPointRange(from_value=float(lo), to_value=float(hi), step=0.0)]
        elif field.ros_type == _Type.INTEGER:
            descriptor.integer_range = [
                IntegerRange(from_value=math.ceil(lo), to_value=math.floor(hi), step=0)]
    return descriptor


def _constraints_text(field: ParamField) -> str:
    lo, hi = field.bounds
    parts = []
    if lo is not None or hi is not None:
        span = f'in [{lo}, {hi}]' if lo is not None and hi is not None else (
            f'>= {lo}' if lo is not None else f'<= {hi}')
        parts.append(f'each element {span}' if field.is_array else span)
    if field.length is not None:
        parts.append(f'exactly {field.length} elements')
    if field.default is dataclasses.MISSING:
        parts.append('required')
    return '; '.join(parts)


def to_ros_value(field: ParamField, value: Any) -> Any:
    """Return a field's Python value as a parameter value (tuples become lists)."""
    return list(value) if field.is_array else value


def from_ros_value(field: ParamField, value: Any) -> Any:
    """Return a parameter value as the field's Python value, checked against range and length.

    Raises:
        ConfigError: naming the parameter, the value got and the value expected.
    """
    if field.is_array:
        result = tuple(field.item_type(item) for item in value)
        if field.length is not None and len(result) != field.length:
            raise ConfigError(f'parameter {field.name!r} has {len(result)} elements, expected '
                              f'{field.length}')
        for item in result:
            _check_bounds(field, item)
        return result
    result = field.item_type(value)
    _check_bounds(field, result)
    return result


def _check_bounds(field: ParamField, value: Any) -> None:
    if field.item_type not in (int, float):
        return
    lo, hi = field.bounds
    if math.isnan(value) or (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ConfigError(f'parameter {field.name!r} = {value!r} is out of range; expected '
                          f'{_constraints_text(field).split(";")[0] or "a number"}')


def declare_config(node: Node, cls: type[T], prefix: str = '', read_only: Iterable[str] = (),
                   on_change: Callable[[T], None] | None = None) -> T:
    """Declare cls's fields as parameters of node and return the config they hold.

    Args:
        node: the node to declare on (before it spins).
        cls: a frozen dataclass whose fields all map to parameter types.
        prefix: parameter name prefix, e.g. ``'gate'`` gives ``gate.stale_timeout_s``.
        read_only: field names (dotted below prefix for nested ones) that may not change.
        on_change: called with the new config after an update was accepted; None makes every
            field read-only.

    Raises:
        ConfigError: naming the parameter, for a value of the wrong type or out of range, a
            required parameter left unset, or a config its ``__post_init__`` refuses.
    """
    fields = config_fields(cls, prefix)
    fixed = set(read_only)
    values = {}
    for field in fields:
        is_fixed = (on_change is None or '.'.join(field.path) in fixed
                    or bool(field.metadata.get('read_only')))
        values[field.path] = _declare(node, field, descriptor_for(field, is_fixed))
    cfg = _build(cls, values, prefix)
    if on_change is not None:
        _ConfigWatcher(node, fields, cfg, on_change)
    return cfg


def _declare(node: Node, field: ParamField, descriptor: ParameterDescriptor) -> Any:
    empty = field.default is dataclasses.MISSING or (field.is_array and not field.default)
    initial = field.ros_type if empty else to_ros_value(field, field.default)
    try:
        param = node.declare_parameter(field.name, initial, descriptor)
    except InvalidParameterTypeException as err:
        raise ConfigError(
            f'parameter {field.name!r} expects a {field.ros_type.name.lower()}: {err} (write '
            f'1.0, not 1, for a double)') from err
    except InvalidParameterValueException as err:
        raise ConfigError(f'parameter {field.name!r}: {err}') from err
    if param.type_ == _Type.NOT_SET:
        if field.default is dataclasses.MISSING:
            raise ConfigError(f'parameter {field.name!r} is required; set it in the params file '
                              f'or with -p {field.name}:=VALUE')
        return field.default
    return from_ros_value(field, param.value)


def _build(cls: type[T], values: Mapping[tuple[str, ...], Any], prefix: str) -> T:
    try:
        return _construct(cls, values)
    except (ValueError, TypeError) as err:
        where = f'parameters {prefix}.*' if prefix else 'parameters'
        raise ConfigError(f'{cls.__name__} from {where} is invalid: {err}') from err


def _construct(cls: type[T], values: Mapping[tuple[str, ...], Any]) -> T:
    kwargs: dict[str, Any] = {}
    nested: dict[str, dict[tuple[str, ...], Any]] = {}
    for path, value in values.items():
        if len(path) == 1:
            kwargs[path[0]] = value
        else:
            nested.setdefault(path[0], {})[path[1:]] = value
    hints = typing.get_type_hints(cls)
    for name, inner in nested.items():
        kwargs[name] = _construct(hints[name], inner)
    return cls(**kwargs)


def apply_updates(cfg: T, updates: Mapping[tuple[str, ...], Any]) -> T:
    """Return cfg with the values at the given attribute paths replaced, validated once per level.

    Raises:
        ConfigError, ValueError: whatever the dataclass' ``__post_init__`` raises.
    """
    direct: dict[str, Any] = {}
    nested: dict[str, dict[tuple[str, ...], Any]] = {}
    for path, value in updates.items():
        if len(path) == 1:
            direct[path[0]] = value
        else:
            nested.setdefault(path[0], {})[path[1:]] = value
    for name, inner in nested.items():
        direct[name] = apply_updates(getattr(cfg, name), inner)
    return dataclasses.replace(cfg, **direct)


class _ConfigWatcher:
    """Validates updates of one config's parameters and hands accepted ones to on_change."""

    def __init__(self, node: Node, fields: list[ParamField], cfg: Any,
                 on_change: Callable[[Any], None]) -> None:
        self._fields = {field.name: field for field in fields}
        self._cfg = cfg
        self._on_change = on_change
        node.add_on_set_parameters_callback(self._validate)
        node.add_post_set_parameters_callback(self._apply)

    def _candidate(self, params: list[Parameter]) -> Any:
        updates = {self._fields[p.name].path: from_ros_value(self._fields[p.name], p.value)
                   for p in params if p.name in self._fields}
        return apply_updates(self._cfg, updates) if updates else None

    def _validate(self, params: list[Parameter]) -> SetParametersResult:
        try:
            self._candidate(params)
        except (ValueError, TypeError) as err:
            return SetParametersResult(successful=False, reason=str(err))
        return SetParametersResult(successful=True)

    def _apply(self, params: list[Parameter]) -> None:
        candidate = self._candidate(params)
        if candidate is not None:
            self._cfg = candidate
            self._on_change(candidate)


def to_parameter_dict(cfg: Any, prefix: str = '') -> dict[str, Any]:
    """Return a config as ``{parameter name: value}`` (for YAML or parameter_overrides)."""
    result = {}
    for field in config_fields(type(cfg), prefix):
        value = cfg
        for name in field.path:
            value = getattr(value, name)
        result[field.name] = to_ros_value(field, value)
    return result
