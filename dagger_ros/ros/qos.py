"""Named QoS profiles of the live loop, and which topic uses which.

Measured on these machines (shared/ROS-NOTES.md): KEEP_LAST 1 drops samples under load even
when RELIABLE, because a newer sample overwrites the one not yet taken. For control data that
is the wanted behaviour (latest value wins, every consumer checks the stamp's age); for data
that must not be lost (labels) it is not, so those get a deep RELIABLE queue.

Compatibility rules that shaped the choices (a publisher/subscription pair that breaks one of
them never connects, silently but for a QoS event):

* a RELIABLE subscription does not match a BEST_EFFORT publisher; a BEST_EFFORT subscription
  matches both;
* a TRANSIENT_LOCAL subscription does not match a VOLATILE publisher;
* a subscription with a deadline needs a publisher with an equal or shorter deadline.

Liveliness is AUTOMATIC (the DDS default) rather than "system default", so that rmw can tell
two profiles match instead of answering "maybe" (rclpy's qos_check_compatible).

So every topic has one profile (:data:`BY_TOPIC`); publishers and subscriptions of a topic both
use :func:`for_topic`. The profiles are module-level objects: treat them as constants (copy one
with :func:`copy.copy` before changing a policy).
"""

from __future__ import annotations

import copy

from rclpy.duration import Duration
from rclpy.qos import DurabilityPolicy
from rclpy.qos import HistoryPolicy
from rclpy.qos import LivelinessPolicy
from rclpy.qos import QoSProfile
from rclpy.qos import ReliabilityPolicy

from dagger_ros.core.errors import ConfigError
from dagger_ros.ros import topics

SENSOR = QoSProfile(
    history=HistoryPolicy.KEEP_LAST, depth=1,
    reliability=ReliabilityPolicy.BEST_EFFORT, durability=DurabilityPolicy.VOLATILE,
    liveliness=LivelinessPolicy.AUTOMATIC)
"""Observations, rewards, gamepad state, /clock: BEST_EFFORT, KEEP_LAST 1, VOLATILE.

Latest value wins: a controller wants the newest observation, never a queue of old ones, and
a sample repaired by a RELIABLE retransmission arrives too late to act on. BEST_EFFORT on the
subscription also matches robot drivers that publish sensor data BEST_EFFORT (a RELIABLE
subscription would silently never connect to them). Consumers check the stamp's age
(core.safety.is_stale) instead of relying on delivery; a silent source is a stale source.
"""

COMMAND = QoSProfile(
    history=HistoryPolicy.KEEP_LAST, depth=1,
    reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE,
    liveliness=LivelinessPolicy.AUTOMATIC)
"""Commands and per-step actions/decisions: RELIABLE, KEEP_LAST 1, VOLATILE, no deadline.

Latest value wins (depth 1: a slow consumer never works through a backlog of old commands),
but RELIABLE so that the *last* command, the safe one sent on disengage or shutdown, is repaired
if the wire drops it: a lost final stop would leave the robot on its previous command. A RELIABLE
publisher also matches both RELIABLE and BEST_EFFORT subscriptions of a robot's driver. For a
deadline use :func:`command_qos` on both sides.
"""

LABELS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST, depth=1000,
    reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL,
    liveliness=LivelinessPolicy.AUTOMATIC)
"""Labelled samples: RELIABLE, KEEP_LAST 1000, TRANSIENT_LOCAL.

Labels must not be lost. 1000 samples absorb about 20 s of a trainer stall at 50 Hz. KEEP_ALL
was not chosen because a full RELIABLE KEEP_ALL queue blocks the publisher, and the publisher
sits on the control path. TRANSIENT_LOCAL hands the last 1000 labels to a trainer that joins
late (discovery after the gate already labelled) or restarts (respawn); such a subscriber must
therefore drop samples it has already stored (key them by episode and step).
"""

EVENTS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST, depth=100,
    reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE,
    liveliness=LivelinessPolicy.AUTOMATIC)
"""Discrete events (episode boundaries, label queries): RELIABLE, KEEP_LAST 100, VOLATILE.

Each event matters on its own, unlike a control value that the next one supersedes, so the queue
is deep enough for a burst; they are rare, so depth 100 never fills in practice.
"""

QUERIES = QoSProfile(
    history=HistoryPolicy.KEEP_LAST, depth=1000,
    reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE,
    liveliness=LivelinessPolicy.AUTOMATIC)
"""Label queries and their answers: RELIABLE, KEEP_LAST 1000, VOLATILE.

A budgeted round sends its whole budget at once; a deep queue keeps the burst whole.
"""

ROUNDS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST, depth=100,
    reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL,
    liveliness=LivelinessPolicy.AUTOMATIC)
"""Round summaries: RELIABLE, KEEP_LAST 100, TRANSIENT_LOCAL.

A trainer that restarts gets the summaries it missed while down, and retrains for the newest
round its last checkpoint does not cover; the gate would otherwise wait for a version that
never comes.
"""

LATCHED = QoSProfile(
    history=HistoryPolicy.KEEP_LAST, depth=1,
    reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL,
    liveliness=LivelinessPolicy.AUTOMATIC)
"""State that a late joiner needs at once: RELIABLE, KEEP_LAST 1, TRANSIENT_LOCAL.

E-stop state, policy weights and trainer progress: a policy executor that starts (or restarts)
after the trainer published gets the newest weights version without waiting for the next round.
The subscription must be TRANSIENT_LOCAL too, or it only sees what comes after it joined.
"""

BY_TOPIC: dict[str, QoSProfile] = {
    topics.OBSERVATION: SENSOR,
    topics.REWARD: SENSOR,
    topics.JOY: SENSOR,
    topics.CLOCK: SENSOR,
    topics.COMMAND: COMMAND,
    topics.POLICY_ACTION: COMMAND,
    topics.POLICY_DOUBT: COMMAND,
    topics.EXPERT_ACTION: COMMAND,
    topics.GATE_DECISION: COMMAND,
    topics.EPISODE: EVENTS,
    topics.LOOP_TIMING: EVENTS,
    topics.EXPERT_QUERY: QUERIES,
    topics.EXPERT_ANSWER: QUERIES,
    topics.GATE_ROUND: ROUNDS,
    topics.LABELS: LABELS,
    topics.WEIGHTS: LATCHED,
    topics.TRAINER_PROGRESS: LATCHED,
    topics.ESTOP: LATCHED,
}
"""The one profile of each topic in :mod:`dagger_ros.ros.topics`."""


def for_topic(name: str) -> QoSProfile:
    """Return the profile of a topic constant (relative name, as in :mod:`topics`).

    Raises:
        ConfigError: for a name that is not one of the topic constants.
    """
    try:
        return BY_TOPIC[name]
    except KeyError:
        raise ConfigError(
            f'no QoS profile for topic {name!r}; expected one of {sorted(BY_TOPIC)}') from None


def command_qos(deadline_s: float | None = None) -> QoSProfile:
    """Return :data:`COMMAND`, with a deadline when deadline_s is given.

    A deadline makes the middleware raise a deadline-missed event on a silent publisher (rclpy:
    ``SubscriptionEventCallbacks(deadline=...)``). Both sides must use it: a subscription with a
    deadline does not match a publisher without one (or with a longer one).

    Raises:
        ConfigError: for a deadline that is not a positive finite number of seconds.
    """
    profile = copy.copy(COMMAND)
    if deadline_s is None:
        return profile
    if not 0 < deadline_s < float('inf'):
        raise ConfigError(f'deadline_s must be > 0 and finite, got {deadline_s!r}')
    profile.deadline = Duration(seconds=deadline_s)
    return profile
