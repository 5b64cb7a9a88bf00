"""Weights as safetensors + JSON metadata, checked before use; never unpickled.

The JSON sidecar names the kind of network, its spaces and shape, its version and the SHA-256
of the tensor bytes. Loading refuses a file whose hash, tensor names or shapes disagree, or
that was made for other spaces, with an error that says which.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_bytes
from safetensors.torch import save as save_bytes

from dagger_ros.core.errors import CheckpointError
from dagger_ros.core.policies import EnsemblePolicy, PolicyConfig, SafetyClassifier
from dagger_ros.core.spec import EnvSpec

FORMAT = 'dagger_ros.checkpoint/1'


def _kind(net: Any) -> str:
    if isinstance(net, SafetyClassifier):
        return 'classifier'
    if isinstance(net, EnsemblePolicy):
        return 'policy'
    raise CheckpointError(f'cannot save a {type(net).__name__}; expected a policy or classifier')


def _shape(net: Any) -> dict[str, Any]:
    if isinstance(net, SafetyClassifier):
        return {'hidden_sizes': list(net.hidden_sizes)}
    return {'hidden_sizes': list(net.cfg.hidden_sizes), 'activation': net.cfg.activation,
            'ensemble_size': net.cfg.ensemble_size}


def _tensors(net: Any) -> dict[str, torch.Tensor]:
    return {name: t.detach().cpu().contiguous() for name, t in net.state_dict().items()}


def policy_to_bytes(net: Any, extra: dict[str, Any] | None = None) -> tuple[bytes, dict]:
    """Serialize weights to safetensors bytes plus the metadata that checks them."""
    tensors = _tensors(net)
    data = save_bytes(tensors)
    meta = {'format': FORMAT, 'kind': _kind(net), 'spec': net.spec.to_dict(),
            'shape': _shape(net), 'version': int(net.version),
            'sha256': hashlib.sha256(data).hexdigest(),
            'tensors': {name: list(t.shape) for name, t in tensors.items()},
            'created': time.time(), 'extra': extra or {}}
    return data, meta


def _build(meta: dict[str, Any]) -> Any:
    spec = EnvSpec.from_dict(meta['spec'])
    shape = meta['shape']
    if meta['kind'] == 'classifier':
        return SafetyClassifier(spec, tuple(shape['hidden_sizes']))
    return EnsemblePolicy(spec, PolicyConfig(tuple(shape['hidden_sizes']), shape['activation'],
                                             int(shape['ensemble_size'])))


def policy_from_bytes(data: bytes, meta: dict[str, Any], expected_spec: EnvSpec | None = None,
                      device: str = 'cpu', where: str = 'received weights') -> tuple[Any, dict]:
    """Check and load weights; raise CheckpointError / SpecMismatchError saying what is wrong."""
    if not isinstance(meta, dict) or meta.get('format') != FORMAT:
        raise CheckpointError(f'{where}: not a dagger_ros checkpoint (format '
                              f'{meta.get("format") if isinstance(meta, dict) else meta!r}, '
                              f'expected {FORMAT!r})')
    digest = hashlib.sha256(data).hexdigest()
    if digest != meta.get('sha256'):
        raise CheckpointError(f'{where}: SHA-256 hash mismatch (got {digest[:12]}…, expected '
                              f'{str(meta.get("sha256"))[:12]}…): the file is corrupt or altered')
    try:
        net = _build(meta)
        spec = net.spec
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f'{where}: malformed metadata: {err}') from err
    if expected_spec is not None:
        expected_spec.require_same(spec, where)
    try:
        tensors = load_bytes(data)
    except (SafetensorError, ValueError, RuntimeError) as err:
        raise CheckpointError(f'{where}: unreadable tensor data: {err}') from err
    _check_tensors(net, tensors, where)
    net.load_state_dict(tensors)
    net.version = int(meta.get('version', 0))
    for member in getattr(net, 'members', []):
        member.version = net.version
    return net.to(device), meta


def _check_tensors(net: Any, tensors: dict[str, torch.Tensor], where: str) -> None:
    wanted = {name: tuple(t.shape) for name, t in net.state_dict().items()}
    got = {name: tuple(t.shape) for name, t in tensors.items()}
    if wanted != got:
        missing = sorted(set(wanted) - set(got))[:3]
        unexpected = sorted(set(got) - set(wanted))[:3]
        wrong = sorted(n for n in set(wanted) & set(got) if wanted[n] != got[n])[:3]
        raise CheckpointError(f'{where}: tensors do not fit this network (missing {missing}, '
                              f'unexpected {unexpected}, wrong shape {wrong}): a foreign file')


def _paths(path: str | Path) -> tuple[Path, Path]:
    path = Path(path)
    stem = path.with_suffix('') if path.suffix in ('.safetensors', '.json') else path
    return stem.with_name(stem.name + '.safetensors'), stem.with_name(stem.name + '.json')


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + '.tmp')
    with open(tmp, 'wb') as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def save_checkpoint(path: str | Path, net: Any, extra: dict[str, Any] | None = None) -> Path:
    """Write <stem>.safetensors then <stem>.json atomically; return the .safetensors path."""
    tensor_path, meta_path = _paths(path)
    tensor_path.parent.mkdir(parents=True, exist_ok=True)
    data, meta = policy_to_bytes(net, extra)
    _atomic_write(tensor_path, data)
    _atomic_write(meta_path, json.dumps(meta, indent=2).encode())
    return tensor_path


def load_checkpoint(path: str | Path, expected_spec: EnvSpec | None = None,
                    device: str = 'cpu') -> tuple[Any, dict]:
    """Load a checkpoint written by save_checkpoint (give the stem or either file)."""
    tensor_path, meta_path = _paths(path)
    for needed in (tensor_path, meta_path):
        if not needed.is_file():
            raise CheckpointError(f'checkpoint file {needed} does not exist')
    try:
        meta = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f'checkpoint metadata {meta_path} is not valid JSON: {err}') from err
    return policy_from_bytes(tensor_path.read_bytes(), meta, expected_spec, device,
                             where=f'the checkpoint at {tensor_path}')
