"""Errors raised by the core, each naming what was got and what was expected."""


class DaggerError(Exception):
    """Base class of every error dagger_ros raises on purpose."""


class InputError(DaggerError, ValueError):
    """An observation or action has the wrong size, dtype or non-finite values."""


class SpecMismatchError(DaggerError, ValueError):
    """Two artifacts (dataset, checkpoint, env) describe different spaces."""


class CheckpointError(DaggerError):
    """A checkpoint is missing, corrupt, foreign or fails its integrity check."""


class DatasetError(DaggerError):
    """A dataset directory is missing, corrupt or was written for another env."""


class ConfigError(DaggerError, ValueError):
    """A configuration value is out of range or of the wrong kind."""
