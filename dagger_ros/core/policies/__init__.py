"""Policies: MLP, bootstrap ensemble, and SafeDAgger's safety classifier."""

from dagger_ros.core.policies.classifier import SafetyClassifier
from dagger_ros.core.policies.ensemble import EnsemblePolicy
from dagger_ros.core.policies.mlp import MLPPolicy, PolicyConfig
from dagger_ros.core.spec import EnvSpec


def make_policy(spec: EnvSpec, cfg: PolicyConfig | None = None) -> EnsemblePolicy:
    """Always an EnsemblePolicy (of one member by default), so callers have one interface."""
    return EnsemblePolicy(spec, cfg or PolicyConfig())


__all__ = ['EnsemblePolicy', 'make_policy', 'MLPPolicy', 'PolicyConfig', 'SafetyClassifier']
