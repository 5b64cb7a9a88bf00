"""Policies: MLP, bootstrap ensemble, and SafeDAgger's safety classifier."""

from dagger_ros.core.policies.classifier import SafetyClassifier
from dagger_ros.core.policies.ensemble import EnsemblePolicy
from dagger_ros.core.policies.mlp import MLPPolicy, PolicyConfig
from dagger_ros.core.spec import EnvSpec


def make_policy(spec: EnvSpec, cfg: PolicyConfig | None = None) -> EnsemblePolicy:
    """Build the policy every algorithm uses.

    Always an EnsemblePolicy (of one member unless ``cfg.ensemble_size`` says otherwise), so
    callers have one interface: ``act``, ``act_with_doubt``, ``version``, ``members``.
    """
    return EnsemblePolicy(spec, cfg or PolicyConfig())


__all__ = ['EnsemblePolicy', 'make_policy', 'MLPPolicy', 'PolicyConfig', 'SafetyClassifier']
