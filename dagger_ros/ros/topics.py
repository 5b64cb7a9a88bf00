"""Topic names of the live loop, relative so that a namespace (``namespace:=robot1``) moves all.

Names are grouped by the component that owns them (``policy/...``, ``expert/...``, ``gate/...``,
``trainer/...``). Only ``/clock`` is absolute: ROS 2 reads simulated time from that exact name.
This module imports nothing from ROS, so graph.py and launch files can use it anywhere.
"""

OBSERVATION = 'observation'
"""Observation vector of the world (sim bridge or robot), one per control step."""
REWARD = 'reward'
"""Reward of the last step, when the world has one (simulation)."""
EPISODE = 'episode'
"""Episode boundary events (start, end, reset) of the world."""
COMMAND = 'command'
"""The action the world executes: whoever drives, after the safety layer."""
LOOP_TIMING = 'loop_timing'
"""The world's observation-to-command round trips and missed deadlines, one report a period."""
POLICY_ACTION = 'policy/action'
"""What the learned policy would do at the current observation."""
POLICY_DOUBT = 'policy/doubt'
"""The policy's uncertainty (ensemble disagreement, safety-classifier p(unsafe))."""
EXPERT_ACTION = 'expert/action'
"""The expert's action (scripted expert or a human on a gamepad)."""
EXPERT_QUERY = 'expert/query'
"""Observations the gate asks the expert to label (budgeted or asynchronous labelling)."""
EXPERT_ANSWER = 'expert/answer'
"""The expert's labels of queried observations, each tagged with its query id."""
GATE_DECISION = 'gate/decision'
"""Who drives and whether the step is labelled, one per control step."""
GATE_ROUND = 'gate/round'
"""One summary per finished round: steps, labels, expert share, switches; the trainer retrains."""
LABELS = 'labels'
"""Labelled samples for the aggregated dataset; none may be lost."""
WEIGHTS = 'policy/weights'
"""The latest trained policy weights, versioned; late joiners get the newest."""
TRAINER_PROGRESS = 'trainer/progress'
"""Training progress: epoch, loss, dataset size, weights version."""
ESTOP = 'estop'
"""Emergency-stop state; latched so that a node starting late sees it."""
JOY = 'joy'
"""Gamepad state (sensor_msgs/Joy) for human-gated runs."""
CLOCK = '/clock'
"""Simulated time; the one absolute name (ROS 2's use_sim_time reads exactly /clock)."""

RELATIVE = (OBSERVATION, REWARD, EPISODE, COMMAND, LOOP_TIMING, POLICY_ACTION, POLICY_DOUBT,
            EXPERT_ACTION, EXPERT_QUERY, EXPERT_ANSWER, GATE_DECISION, GATE_ROUND, LABELS,
            WEIGHTS, TRAINER_PROGRESS, ESTOP, JOY)
"""Every relative topic name above."""
ALL = RELATIVE + (CLOCK,)
"""Every topic name above, /clock included."""


def is_relative(name: str) -> bool:
    """Return True for a name a namespace applies to (no leading ``/`` or ``~``)."""
    return bool(name) and not name.startswith(('/', '~'))
