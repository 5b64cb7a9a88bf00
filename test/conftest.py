"""Shared fixtures: seeded rng and single-threaded torch."""

import os

import numpy as np
import pytest

os.environ.setdefault('SDL_VIDEODRIVER', 'dummy')
os.environ.setdefault('SDL_AUDIODRIVER', 'dummy')
os.environ.setdefault('MUJOCO_GL', 'egl')


@pytest.fixture(scope='session', autouse=True)
def torch_single_threaded():
    """Tests run torch on one thread: faster and repeatable on 2 cores."""
    import torch
    torch.set_num_threads(1)
    yield


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded numpy generator."""
    return np.random.default_rng(0)
