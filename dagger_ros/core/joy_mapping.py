"""A person's gamepad as an action: axis mapping, deadman takeover and per-pad presets.

The input is what a ``sensor_msgs/Joy`` carries, as plain sequences: axes in [-1, 1] with ROS's
signs (stick left and up positive) and buttons as 0/1. :func:`joy_to_action` turns axes into a
bounded action; :class:`Takeover` turns buttons into "the person drives". Both are pure and
never raise on a short or odd gamepad state: a different controller is an everyday event, so a
missing axis counts as centred and a missing button as released.

Scale and offset are fractions of each action dimension's half-range, so one preset suits
every task: scale 1.0 makes a full deflection reach the bound, and a centred stick gives the
middle of the bounds. A dimension with an infinite bound uses action units instead.

Presets (``config/gamepads/<name>.yaml``) are ROS params files of ``mapping.*`` entries, so the
same file can go to the expert gate node as an extra ``--params-file``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math
import numbers
from pathlib import Path
import sys
from typing import Any, Sequence

import numpy as np
import yaml

from dagger_ros.core.errors import ConfigError
from dagger_ros.core.settings import fixed_meta as _meta

PACKAGE = 'dagger_ros'
TAKEOVER_MODES = ('hold', 'toggle')
NO_BUTTON = -1
NO_AXIS = -1


@dataclass(frozen=True)
class JoyMapping:
    """How gamepad axes become an action and which buttons take over or stop.

    Empty ``scale``, ``offset`` or ``inverted`` mean 1.0, 0.0 or False for every dimension;
    lists are stored as tuples.
    """

    axes: tuple[int, ...] = field(default=(0,), metadata=_meta(
        'Joy axis index per action dimension; -1 leaves a dimension at its offset', '', -1))
    scale: tuple[float, ...] = field(default=(), metadata=_meta(
        'per dimension: action for a full deflection, as a fraction of the half-range (empty: '
        '1.0 each)', 'half-range'))
    offset: tuple[float, ...] = field(default=(), metadata=_meta(
        'per dimension: added after scaling, as a fraction of the half-range (empty: 0.0 '
        'each)', 'half-range'))
    inverted: tuple[bool, ...] = field(default=(True,), metadata=_meta(
        'per dimension: flip the axis sign (Joy reports stick right as negative)'))
    deadzone: float = field(default=0.0, metadata=_meta(
        'axis values within +-deadzone count as 0; the rest is rescaled to stay continuous',
        '', 0.0, 1.0))
    takeover_button: int = field(default=9, metadata=_meta(
        'Joy button index of the takeover (deadman); 9 is the left shoulder', '', 0))
    takeover_mode: str = field(default='hold', metadata=_meta(
        'hold: the person drives while the button is held; toggle: each press switches'))
    estop_button: int = field(default=NO_BUTTON, metadata=_meta(
        'Joy button index of the e-stop, -1 for none', '', -1))

    def __post_init__(self) -> None:
        n = len(_as_tuple(self.axes, 'axes'))
        if n == 0:
            raise ConfigError('mapping.axes is empty; expected one axis index per action '
                              'dimension, e.g. [0] for the left stick x')
        object.__setattr__(self, 'axes', tuple(_index(a, 'axes', NO_AXIS) for a in self.axes))
        object.__setattr__(self, 'scale', _per_dimension(self.scale, 'scale', n, 1.0))
        object.__setattr__(self, 'offset', _per_dimension(self.offset, 'offset', n, 0.0))
        object.__setattr__(self, 'inverted', _flags(self.inverted, n))
        self._normalise_scalars()

    def _normalise_scalars(self) -> None:
        if not (isinstance(self.deadzone, numbers.Real) and 0.0 <= self.deadzone < 1.0):
            raise ConfigError(f'mapping.deadzone must be in [0, 1), got {self.deadzone!r}')
        object.__setattr__(self, 'takeover_button', _index(self.takeover_button,
                                                           'takeover_button', 0))
        object.__setattr__(self, 'estop_button', _index(self.estop_button, 'estop_button',
                                                        NO_BUTTON))
        if self.takeover_mode not in TAKEOVER_MODES:
            raise ConfigError(f'mapping.takeover_mode must be one of {TAKEOVER_MODES}, got '
                              f'{self.takeover_mode!r}')
        if self.estop_button == self.takeover_button:
            raise ConfigError(f'mapping.estop_button and mapping.takeover_button are both '
                              f'{self.estop_button}; expected different buttons (or -1 for no '
                              f'e-stop)')

    @property
    def dim(self) -> int:
        """Number of action dimensions the mapping drives."""
        return len(self.axes)


def _as_tuple(values: Any, name: str) -> tuple:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise ConfigError(f'mapping.{name} must be a list, got {values!r}')
    return tuple(values)


def _index(value: Any, name: str, lowest: int) -> int:
    """value as an int index >= lowest; bools and fractions are refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < lowest:
        raise ConfigError(f'mapping.{name} has {value!r}; expected whole numbers >= {lowest}')
    return int(value)


def _per_dimension(values: Any, name: str, n: int, default: float) -> tuple[float, ...]:
    values = _as_tuple(values, name)
    if not values:
        return (default,) * n
    if len(values) != n:
        raise ConfigError(f'mapping.{name} has {len(values)} values for {n} axes; expected '
                          f'{n} (or none for {default} each)')
    bad = [v for v in values if isinstance(v, bool) or not isinstance(v, numbers.Real)
           or not math.isfinite(v)]
    if bad:
        raise ConfigError(f'mapping.{name} has {bad}; expected finite numbers')
    return tuple(float(v) for v in values)


def _flags(values: Any, n: int) -> tuple[bool, ...]:
    values = _as_tuple(values, 'inverted')
    if not values:
        return (False,) * n
    if len(values) != n or not all(isinstance(v, (bool, np.bool_)) for v in values):
        raise ConfigError(f'mapping.inverted is {list(values)} for {n} axes; expected {n} '
                          f'true/false values (or none for no inversion)')
    return tuple(bool(v) for v in values)


def apply_deadzone(values: np.ndarray, deadzone: float) -> np.ndarray:
    """Zero values within +-deadzone and rescale the rest so that +-1 stays +-1.

    As the ROS joy node does: the output starts at 0 just past the deadzone instead of jumping
    to +-deadzone, so a slow push gives a smooth command.
    """
    magnitude = np.abs(values)
    scaled = np.sign(values) * (magnitude - deadzone) / (1.0 - deadzone)
    return np.where(magnitude > deadzone, scaled, 0.0)


def read_axes(axes: Sequence[float], indices: Sequence[int]) -> np.ndarray:
    """The axes at indices in [-1, 1]; a missing axis, index -1 or NaN reads as 0 (centred)."""
    values = np.zeros(len(indices))
    for i, index in enumerate(indices):
        if 0 <= index < len(axes):
            value = float(axes[index])
            values[i] = value if math.isfinite(value) else 0.0
    return np.clip(values, -1.0, 1.0)


def _bounds(act_low: Any, act_high: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    low = np.asarray(act_low, dtype=np.float64).ravel()
    high = np.asarray(act_high, dtype=np.float64).ravel()
    if low.size != n or high.size != n:
        raise ConfigError(f'action bounds have {low.size} and {high.size} values for a mapping '
                          f'of {n} axes; expected {n} each (one axis per action dimension)')
    if np.isnan(low).any() or np.isnan(high).any() or (low > high).any():
        raise ConfigError(f'action bounds low={low.tolist()} high={high.tolist()}; expected '
                          f'low <= high, no NaN')
    return low, high


def joy_to_action(axes: Sequence[float], mapping: JoyMapping, act_low: Any,
                  act_high: Any) -> np.ndarray:
    """Return the action a gamepad state asks for, within [act_low, act_high].

    Per dimension: read the axis (missing or NaN: 0), apply the deadzone, invert, then
    ``middle + half_range * (scale * value + offset)``, clipped to the bounds. Where a bound is
    infinite the middle is 0 and the half-range 1 (action units).

    Raises:
        ConfigError: when the bounds do not have one value per mapped axis, or low > high.
    """
    low, high = _bounds(act_low, act_high, mapping.dim)
    values = apply_deadzone(read_axes(axes, mapping.axes), mapping.deadzone)
    values = np.where(mapping.inverted, -values, values)
    finite = np.isfinite(low) & np.isfinite(high)
    low_f, high_f = np.where(finite, low, -1.0), np.where(finite, high, 1.0)
    middle, half = (low_f + high_f) / 2.0, (high_f - low_f) / 2.0
    action = middle + half * (np.asarray(mapping.scale) * values + np.asarray(mapping.offset))
    return np.clip(action, low, high)


def is_pressed(buttons: Sequence[Any], index: int) -> bool:
    """True when button index exists and is pressed; a missing button (or -1) is released."""
    return 0 <= index < len(buttons) and bool(buttons[index])


def estop_pressed(buttons: Sequence[Any], mapping: JoyMapping) -> bool:
    """True while the mapping's e-stop button is pressed (never when it has none)."""
    return is_pressed(buttons, mapping.estop_button)


class Takeover:
    """Whether the person drives, from successive button states (hold or toggle).

    Hold: engaged while the button is down. Toggle: each press (a released-to-pressed edge)
    switches. A lost pad (``connected=False``) disengages, and in toggle mode a press already
    under way when the pad comes back, or at the first state, is not an edge: after a
    reconnect the person must press again to drive.
    """

    def __init__(self, mapping: JoyMapping) -> None:
        self.button = mapping.takeover_button
        self.mode = mapping.takeover_mode
        self.engaged = False
        self._was_pressed = True

    def update(self, buttons: Sequence[Any], connected: bool = True) -> bool:
        """Take one button state; return whether the person drives now."""
        if not connected:
            self.engaged = False
            self._was_pressed = True
            return False
        pressed = is_pressed(buttons, self.button)
        if self.mode == 'hold':
            self.engaged = pressed
        elif pressed and not self._was_pressed:
            self.engaged = not self.engaged
        self._was_pressed = pressed
        return self.engaged


def gamepads_dir() -> Path:
    """Return the folder of gamepad presets, as installed, else from this source checkout.

    Looks in the ament index (colcon install, or a pip install with AMENT_PREFIX_PATH set),
    then ``<sys.prefix>/share/dagger_ros/config/gamepads``, then the repository.
    """
    candidates: list[Path] = []
    try:
        from ament_index_python.packages import get_package_share_directory
        candidates.append(Path(get_package_share_directory(PACKAGE)) / 'config' / 'gamepads')
    except (ImportError, LookupError, OSError):  # not installed, not indexed, no index at all
        pass
    candidates.append(Path(sys.prefix) / 'share' / PACKAGE / 'config' / 'gamepads')
    candidates.append(Path(__file__).resolve().parents[2] / 'config' / 'gamepads')
    return next((path for path in candidates if path.is_dir()), candidates[-1])


def preset_names() -> list[str]:
    """Names of the gamepad presets (``xbox``, ``ps4``, ...), sorted."""
    return sorted(path.stem for path in gamepads_dir().glob('*.yaml'))


def preset_path(name: str) -> Path:
    """Return the file of preset name.

    Raises:
        ConfigError: naming the presets there are, for an unknown name.
    """
    path = gamepads_dir() / f'{name}.yaml'
    if not path.is_file():
        raise ConfigError(f'no gamepad preset {name!r} in {gamepads_dir()}; expected one of '
                          f'{preset_names()}')
    return path


def load_preset(name: str) -> dict[str, Any]:
    """Return a preset's ``mapping.*`` values, checked, ready for ``JoyMapping(**values)``.

    Raises:
        ConfigError: for an unknown preset, a file without ``/**: ros__parameters: mapping``,
            unknown keys, or values :class:`JoyMapping` refuses.
    """
    path = preset_path(name)
    with open(path, encoding='utf-8') as handle:
        document = yaml.safe_load(handle) or {}
    values = _mapping_section(document, path)
    JoyMapping(**values)
    return values


def _mapping_section(document: Any, path: Path) -> dict[str, Any]:
    try:
        params = document['/**']['ros__parameters']
    except (KeyError, TypeError):
        raise ConfigError(f'{path} has no "/**: ros__parameters:" section; expected a ROS '
                          f'params file') from None
    values = dict(params.get('mapping') or {})
    values.update({key.split('.', 1)[1]: value for key, value in params.items()
                   if key.startswith('mapping.')})
    known = set(JoyMapping.__dataclass_fields__)
    unknown = sorted(set(values) - known)
    if unknown or not values:
        raise ConfigError(f'{path}: mapping keys {unknown or "(none)"} are not expected; '
                          f'expected some of {sorted(known)}')
    return {key: tuple(value) if isinstance(value, list) else value
            for key, value in values.items()}
