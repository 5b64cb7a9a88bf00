"""Several networks' weights as one byte string with a self-describing part list.

The trainer sends the policy (and, for SafeDAgger-type rules, the safety net) as one message so
that the executor and the gate always switch to a matching set. Each part keeps the metadata of
:func:`dagger_ros.core.checkpoint.policy_to_bytes` (kind, spaces, version, SHA-256), which the
receiver checks before use; nothing is unpickled.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

from dagger_ros.core.checkpoint import policy_from_bytes, policy_to_bytes
from dagger_ros.core.errors import CheckpointError
from dagger_ros.core.spec import EnvSpec

MAX_LABEL_CHARS = 65536


def pack_bundle(parts: dict[str, Any], extra: dict[str, Any] | None = None
                ) -> tuple[bytes, list[tuple[str, int]]]:
    """Return the bytes of every named network and the (label, size) list that describes them.

    Args:
        parts: name ('policy', 'safety') -> network; None values are left out.
        extra: JSON-ready figures stored with every part (round, labels...).
    """
    chunks, fields = [], []
    for name, net in parts.items():
        if net is None:
            continue
        data, meta = policy_to_bytes(net, extra)
        meta['part'] = name
        chunks.append(data)
        fields.append((json.dumps(meta, sort_keys=True), len(data)))
    return b''.join(chunks), fields


def unpack_bundle(data: bytes, fields: Sequence[tuple[str, int]],
                  expected_spec: EnvSpec | None = None, device: str = 'cpu',
                  only: Sequence[str] | None = None) -> dict[str, tuple[Any, dict]]:
    """Check and load the networks of a bundle; name -> (network, metadata).

    Raises:
        CheckpointError: part list that does not add up, unreadable metadata, or a part that
            fails the checkpoint checks (hash, kind, tensors).
        SpecMismatchError: a part made for other spaces than expected_spec.
    """
    sizes = [int(size) for _, size in fields]
    if any(size < 0 for size in sizes) or sum(sizes) != len(data):
        raise CheckpointError(f'weights message has {len(data)} bytes but its parts add up to '
                              f'{sum(sizes)}; expected equal')
    result, offset = {}, 0
    for label, size in fields:
        meta = _read_meta(label)
        chunk = data[offset:offset + size]
        offset += size
        name = str(meta.get('part', 'policy'))
        if only is not None and name not in only:
            continue
        result[name] = policy_from_bytes(chunk, meta, expected_spec, device=device)
    if 'policy' not in result and (only is None or 'policy' in only):
        raise CheckpointError('weights message holds no policy part')
    return result


def _read_meta(label: str) -> dict[str, Any]:
    if len(label) > MAX_LABEL_CHARS:
        raise CheckpointError(f'weights part metadata is {len(label)} characters; expected at '
                              f'most {MAX_LABEL_CHARS}')
    try:
        meta = json.loads(label)
    except json.JSONDecodeError as err:
        raise CheckpointError(f'weights part metadata is not JSON: {err}') from err
    if not isinstance(meta, dict):
        raise CheckpointError('weights part metadata is not a JSON object')
    return meta
