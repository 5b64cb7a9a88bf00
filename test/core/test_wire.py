"""Labeled samples survive the flat-vector encoding; malformed vectors are refused."""

from hypothesis import given, settings
from hypothesis import strategies as st
import numpy as np
import pytest

from dagger_ros.core.errors import InputError
from dagger_ros.core.spec import EnvSpec
from dagger_ros.core.types import Event, Source
from dagger_ros.core.wire import decode_sample, encode_sample, WireSample

SPEC = EnvSpec('toy', 3, 2, (-1.0, -1.0), (1.0, 1.0))
finite = st.floats(-1e6, 1e6, allow_nan=False)


def sample(obs, label, reason='takeover'):
    return WireSample(np.array(obs), np.array(label), np.array(label), Source.POLICY,
                      Source.HUMAN, reason, 2, 7, 11, 5, 1234.5, 0.25, Event.INTERVENTION_START)


@settings(max_examples=50, deadline=None)
@given(st.lists(finite, min_size=3, max_size=3), st.lists(finite, min_size=2, max_size=2),
       st.sampled_from(['beta_expert', 'takeover', 'safety', 'budget_query']))
def test_round_trip(obs, label, reason):
    original = sample(obs, label, reason)
    vector, fields = encode_sample(original)
    back = decode_sample(vector, fields, SPEC)
    np.testing.assert_array_equal(back.obs, original.obs)
    np.testing.assert_array_equal(back.label, original.label)
    assert (back.reason, back.actor, back.labeler, back.event) == (
        reason, Source.POLICY, Source.HUMAN, Event.INTERVENTION_START)
    assert (back.round, back.episode, back.step, back.policy_version) == (2, 7, 11, 5)


def test_sample_for_another_env_is_refused():
    vector, fields = encode_sample(sample([0, 0, 0], [0, 0]))
    other = EnvSpec('other', 4, 2, (-1.0, -1.0), (1.0, 1.0))
    with pytest.raises(InputError, match="field 'obs' has size 3, expected 4 for other"):
        decode_sample(vector, fields, other)


def test_truncated_vector_and_nan_are_refused():
    vector, fields = encode_sample(sample([0, 0, 0], [0, 0]))
    with pytest.raises(InputError, match='values for fields of total size'):
        decode_sample(vector[:-1], fields, SPEC)
    vector[0] = np.nan
    with pytest.raises(InputError, match='non-finite'):
        decode_sample(vector, fields, SPEC)
