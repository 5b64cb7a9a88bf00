"""Weights as safetensors plus JSON metadata, checked before use and never unpickled.

The metadata names the kind of network, its spaces and shape, its version and the SHA-256 of
the tensor bytes. Files and bytes received over the network go through the same checks: a
wrong format or kind, a hash mismatch, tensors that do not fit the network, or spaces other
than the expected ones are refused with an error that says which. safetensors' parser reads
a JSON header and raw arrays only, so no byte of a checkpoint is ever executed.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
import tempfile
import time
from typing import Any, Union

from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors
import torch
from torch import nn

from dagger_ros.core.errors import CheckpointError
from dagger_ros.core.policies import EnsemblePolicy, MLPPolicy, PolicyConfig, SafetyClassifier
from dagger_ros.core.spec import EnvSpec

FORMAT = 'dagger_ros.checkpoint/1'
KINDS = ('policy', 'ensemble', 'classifier')
Network = Union[MLPPolicy, EnsemblePolicy, SafetyClassifier]


def kind_of(net: nn.Module) -> str:
    """'policy', 'ensemble' or 'classifier'; CheckpointError for any other module."""
    for cls, kind in ((SafetyClassifier, 'classifier'), (EnsemblePolicy, 'ensemble'),
                      (MLPPolicy, 'policy')):
        if isinstance(net, cls):
            return kind
    raise CheckpointError(f'cannot save a {type(net).__name__}; expected an MLPPolicy, '
                          'EnsemblePolicy or SafetyClassifier')


def _shape(net: Network) -> dict[str, Any]:
    if isinstance(net, SafetyClassifier):
        return {'hidden_sizes': list(net.hidden_sizes)}
    return {'hidden_sizes': list(net.cfg.hidden_sizes), 'activation': net.cfg.activation,
            'ensemble_size': net.cfg.ensemble_size}


def policy_to_bytes(net: Network, extra: dict[str, Any] | None = None) -> tuple[bytes, dict]:
    """Serialize a network's weights for a file or a message.

    Args:
        net: an MLPPolicy, EnsemblePolicy or SafetyClassifier.
        extra: JSON-ready figures to keep with the weights (round, labels, losses...).

    Returns:
        The safetensors bytes, and the JSON-ready metadata that checks them.
    """
    kind = kind_of(net)
    tensors = {name: t.detach().cpu().contiguous() for name, t in net.state_dict().items()}
    data = save_tensors(tensors)
    meta = {'format': FORMAT, 'kind': kind, 'spec': net.spec.to_dict(), 'shape': _shape(net),
            'version': int(net.version), 'sha256': hashlib.sha256(data).hexdigest(),
            'tensors': {name: list(t.shape) for name, t in tensors.items()},
            'created': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
            'extra': dict(extra or {})}
    return data, meta


def policy_from_bytes(data: bytes, meta: dict[str, Any], expected_spec: EnvSpec | None = None,
                      device: str | torch.device = 'cpu',
                      kind: str | None = None) -> tuple[Network, dict[str, Any]]:
    """Check and load weights made by policy_to_bytes.

    Args:
        data: the safetensors bytes.
        meta: the metadata sent with them.
        expected_spec: when given, the weights must have been made for these spaces.
        device: where the network goes.
        kind: when given, the kind of network expected ('policy', 'ensemble', 'classifier').

    Returns:
        The network (version restored) and the metadata.

    Raises:
        CheckpointError: not a checkpoint, wrong kind, hash mismatch, or tensors that do not
            fit the described network.
        SpecMismatchError: made for other spaces than expected_spec.
    """
    return _from_bytes(data, meta, expected_spec, device, kind, 'received weights')


def _from_bytes(data: bytes, meta: Any, expected_spec: EnvSpec | None,
                device: str | torch.device, kind: str | None,
                where: str) -> tuple[Network, dict[str, Any]]:
    _check_meta(meta, kind, where)
    _check_hash(data, meta, where)
    # The skeleton lives on the meta device: shapes without storage, so metadata claiming a
    # huge network costs no memory before the tensors have been compared with it.
    with torch.device('meta'):
        skeleton = _build(meta, where)
    if expected_spec is not None:
        expected_spec.require_same(skeleton.spec, where)
    try:
        tensors = load_tensors(data)
    except (SafetensorError, ValueError, RuntimeError) as err:
        raise CheckpointError(f'{where}: unreadable tensor data: {err}') from err
    _check_tensors(skeleton, tensors, where)
    net = _build(meta, where)
    net.load_state_dict(tensors)
    net.version = int(meta.get('version', 0))
    for member in getattr(net, 'members', []):
        member.version = net.version
    return net.to(device), meta


def warm_up() -> None:
    """Pay once, now, what the first load of a process costs on top of the others.

    The first network built on the meta device makes torch import its compiler stack (about
    2 s on 2 cores, holding the GIL). A node that receives weights while it controls calls
    this at start, so the first weights do not stall its control callbacks for that long.
    """
    with torch.device('meta'):
        MLPPolicy(EnvSpec('warm_up', 1, 1, (-1.0,), (1.0,)), PolicyConfig(hidden_sizes=(1,)))


def _check_meta(meta: Any, kind: str | None, where: str) -> None:
    if not isinstance(meta, dict) or meta.get('format') != FORMAT:
        got = meta.get('format') if isinstance(meta, dict) else type(meta).__name__
        raise CheckpointError(f'{where}: not a dagger_ros checkpoint (format {got!r}, expected '
                              f'{FORMAT!r})')
    if meta.get('kind') not in KINDS:
        raise CheckpointError(f'{where}: unknown kind {meta.get("kind")!r}, expected one of '
                              f'{KINDS}')
    if kind is not None and meta['kind'] != kind:
        raise CheckpointError(f'{where}: wrong kind: holds {meta["kind"]!r}, expected {kind!r}')


def _check_hash(data: bytes, meta: dict[str, Any], where: str) -> None:
    digest = hashlib.sha256(data).hexdigest()
    if digest != meta.get('sha256'):
        raise CheckpointError(
            f'{where}: SHA-256 hash mismatch (got {digest[:12]}..., expected '
            f'{str(meta.get("sha256"))[:12]}...): the tensor data is corrupt, truncated or not '
            'the file this metadata describes; save the checkpoint again')


def _build(meta: dict[str, Any], where: str) -> Network:
    try:
        spec = EnvSpec.from_dict(meta['spec'])
        shape = meta['shape']
        if meta['kind'] == 'classifier':
            return SafetyClassifier(spec, tuple(shape['hidden_sizes']))
        cfg = PolicyConfig(tuple(shape['hidden_sizes']), str(shape['activation']),
                           int(shape['ensemble_size']))
        return EnsemblePolicy(spec, cfg) if meta['kind'] == 'ensemble' else MLPPolicy(spec, cfg)
    except (KeyError, TypeError, ValueError) as err:  # ConfigError, SpecMismatchError too
        raise CheckpointError(
            f'{where}: malformed metadata ({type(err).__name__}: {err})') from err


def _check_tensors(net: Network, tensors: dict[str, torch.Tensor], where: str) -> None:
    wanted = {name: tuple(t.shape) for name, t in net.state_dict().items()}
    got = {name: tuple(t.shape) for name, t in tensors.items()}
    if wanted != got:
        missing = sorted(set(wanted) - set(got))[:3]
        unexpected = sorted(set(got) - set(wanted))[:3]
        wrong = sorted(n for n in set(wanted) & set(got) if wanted[n] != got[n])[:3]
        raise CheckpointError(f'{where}: tensors do not fit the network its metadata describes '
                              f'(missing {missing}, unexpected {unexpected}, wrong shape '
                              f'{wrong}): a foreign file')


def checkpoint_paths(path: str | Path) -> tuple[Path, Path]:
    """The (.safetensors, .json) pair for a stem or either file of the pair."""
    path = Path(path)
    stem = path.with_suffix('') if path.suffix in ('.safetensors', '.json') else path
    return stem.with_name(stem.name + '.safetensors'), stem.with_name(stem.name + '.json')


def _write_atomic(path: Path, data: bytes) -> None:
    # A unique temp file in the same folder, then os.replace: readers see the old file or the
    # new one, never half of one, even with two writers.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f'.{path.name}.', suffix='.tmp')
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_checkpoint(path: str | Path, net: Network, extra: dict[str, Any] | None = None) -> Path:
    """Write ``<stem>.safetensors`` then ``<stem>.json``, each atomically.

    The JSON goes last and holds the tensors' hash, so a crash between the two leaves a pair
    that load_checkpoint refuses as a hash mismatch rather than one that loads wrong weights.

    Args:
        path: the stem (``.../policy-v000003``) or either file name of the pair.
        net: an MLPPolicy, EnsemblePolicy or SafetyClassifier.
        extra: JSON-ready figures to keep with the weights.

    Returns:
        The path of the .safetensors file.
    """
    tensor_path, meta_path = checkpoint_paths(path)
    tensor_path.parent.mkdir(parents=True, exist_ok=True)
    data, meta = policy_to_bytes(net, extra)
    _write_atomic(tensor_path, data)
    _write_atomic(meta_path, json.dumps(meta, indent=2).encode('utf-8'))
    return tensor_path


def load_checkpoint(path: str | Path, expected_spec: EnvSpec | None = None,
                    device: str | torch.device = 'cpu',
                    kind: str | None = None) -> tuple[Network, dict[str, Any]]:
    """Load a checkpoint written by save_checkpoint.

    Args:
        path: the stem or either file of the pair.
        expected_spec: when given, the checkpoint must have been made for these spaces.
        device: where the network goes.
        kind: when given, the kind of network expected ('policy', 'ensemble', 'classifier').

    Returns:
        The network (version restored) and its metadata.

    Raises:
        CheckpointError: a file is missing, the JSON is garbage, the hash does not match, the
            tensors do not fit, or the kind is wrong.
        SpecMismatchError: made for other spaces than expected_spec.
    """
    tensor_path, meta_path = checkpoint_paths(path)
    for needed in (tensor_path, meta_path):
        if not needed.is_file():
            raise CheckpointError(f'checkpoint file {needed} does not exist; expected the '
                                  '.safetensors and .json pair written by save_checkpoint')
    try:
        meta = json.loads(meta_path.read_text(encoding='utf-8'))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f'checkpoint metadata {meta_path} is not valid JSON: {err}') from err
    return _from_bytes(tensor_path.read_bytes(), meta, expected_spec, device, kind,
                       f'the checkpoint {tensor_path}')
