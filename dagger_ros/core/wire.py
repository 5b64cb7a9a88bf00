"""Flat-vector encodings of labeled samples, for topics of standard array messages.

A labeled sample travels as one float64 vector plus a field list (name, size); the ROS layer
puts the field list into the message layout's dimension labels so the vector describes itself.
The reason word travels in the field list too (``reason:<word>``), so no code table is shared.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dagger_ros.core.errors import InputError
from dagger_ros.core.spec import EnvSpec
from dagger_ros.core.types import Event, Source

UNKNOWN_DOUBT = -1.0
"""How an unknown (NaN) doubt travels: messages carry finite numbers only; a doubt is >= 0."""
SCALARS = ('actor', 'labeler', 'round', 'episode', 'step', 'policy_version', 'time', 'doubt',
           'event')


@dataclass(frozen=True)
class WireSample:
    """One labeled sample as the gate sends it to the trainer."""

    obs: np.ndarray
    label: np.ndarray
    action: np.ndarray
    actor: Source
    labeler: Source
    reason: str
    round: int
    episode: int
    step: int
    policy_version: int
    time: float
    doubt: float = float('nan')
    event: Event = Event.NONE


def encode_sample(sample: WireSample) -> tuple[np.ndarray, list[tuple[str, int]]]:
    """Return the flat vector and its field list."""
    scalars = [float(getattr(sample, name)) for name in SCALARS]
    doubt = SCALARS.index('doubt')
    scalars[doubt] = scalars[doubt] if np.isfinite(scalars[doubt]) else UNKNOWN_DOUBT
    vector = np.concatenate([sample.obs, sample.label, sample.action, scalars]).astype(np.float64)
    fields = [('obs', len(sample.obs)), ('label', len(sample.label)),
              ('action', len(sample.action))] + [(name, 1) for name in SCALARS]
    fields.append((f'reason:{sample.reason}', 0))
    return vector, fields


def decode_sample(vector: np.ndarray, fields: list[tuple[str, int]], spec: EnvSpec) -> WireSample:
    """Inverse of :func:`encode_sample`, checked against the spec; raises InputError."""
    sizes = dict(fields)
    expected = {'obs': spec.obs_dim, 'label': spec.act_dim, 'action': spec.act_dim}
    for name, size in expected.items():
        if sizes.get(name) != size:
            raise InputError(f'labeled sample field {name!r} has size {sizes.get(name)}, '
                             f'expected {size} for {spec.env_id}')
    reasons = [name.split(':', 1)[1] for name, _ in fields if name.startswith('reason:')]
    total = sum(size for _, size in fields)
    if len(vector) != total or not reasons:
        raise InputError(f'labeled sample has {len(vector)} values for fields of total size '
                         f'{total} (reason given: {bool(reasons)})')
    parts, offset = {}, 0
    for name, size in fields:
        parts[name] = np.asarray(vector[offset:offset + size], dtype=np.float64)
        offset += size
    spec.check_obs(parts['obs'], 'labeled observation')
    spec.check_action(parts['label'], 'label')
    spec.check_action(parts['action'], 'executed action')
    return WireSample(
        parts['obs'], parts['label'], parts['action'], Source(int(parts['actor'][0])),
        Source(int(parts['labeler'][0])), reasons[0], int(parts['round'][0]),
        int(parts['episode'][0]), int(parts['step'][0]), int(parts['policy_version'][0]),
        float(parts['time'][0]), _doubt(float(parts['doubt'][0])), Event(int(parts['event'][0])))


def _doubt(value: float) -> float:
    return float('nan') if value < 0 else value
