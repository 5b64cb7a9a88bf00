"""The bare-machine runner, with small Python processes standing in for the nodes.

The real nodes are not needed to check what the runner does: prefix and stream output, set the
domain id, forward Ctrl-C/SIGTERM, escalate to SIGKILL, respawn, and report exit codes. The
stand-ins are ``python -c`` scripts chosen by node name through the injectable command builder.
"""

from pathlib import Path
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from dagger_ros import run
from dagger_ros.graph import NodeSpec

pytestmark = pytest.mark.timeout(60)

REPO = Path(__file__).resolve().parents[1]

OBEDIENT = textwrap.dedent("""
    import os, signal, sys
    def stop(sig, frame):
        print('got', signal.Signals(sig).name, flush=True)
        sys.exit(0)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    print('ready domain=' + os.environ['ROS_DOMAIN_ID'], flush=True)
    while True:
        signal.pause()
""")

STUBBORN = textwrap.dedent("""
    import signal, subprocess, sys
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    helper = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])
    print('ready helper=%d' % helper.pid, flush=True)
    while True:
        signal.pause()
""")

FAILING = "print('boom', flush=True); raise SystemExit(3)"

SCRIPTS = {'a': OBEDIENT, 'b': OBEDIENT, 'stubborn': STUBBORN, 'bad': FAILING}


def dummy_command(spec, namespace, params_file):
    return [sys.executable, '-c', SCRIPTS[spec.name]]


def spec(name, respawn=False):
    return NodeSpec(executable=f'{name}_node', name=name, parameters_key=name, respawn=respawn)


class Sink:
    """Collects the runner's prefixed output lines (written from its pump threads)."""

    def __init__(self):
        self.lines = []
        self._lock = threading.Lock()

    def write(self, text):
        with self._lock:
            self.lines.extend(text.splitlines())

    def flush(self):
        pass

    def has(self, *lines):
        with self._lock:
            return all(line in self.lines for line in lines)

    def starting(self, prefix):
        with self._lock:
            return [line for line in self.lines if line.startswith(prefix)]


def wait_for(predicate, timeout_s):
    """Poll predicate until true or timeout_s passed (the processes run on their own)."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _start(names, sink, **options):
    return run.start_graph([spec(n) for n in names], '', [], 42, command=dummy_command,
                           sink=sink, **options)


def test_output_is_prefixed_and_nodes_share_the_domain_id():
    sink = Sink()
    processes = _start(['a', 'b'], sink)

    assert wait_for(lambda: sink.has('[a] ready domain=42', '[b] ready domain=42'), 20.0)
    processes.stop(signal.SIGINT, timeout_s=10.0)

    assert sink.has('[a] got SIGINT', '[b] got SIGINT')
    assert processes.failed() == []
    assert processes.report() == 'a: exit 0\nb: exit 0'


def test_a_failing_node_is_reported_while_the_others_keep_running():
    sink = Sink()
    processes = _start(['a', 'bad'], sink)

    assert wait_for(lambda: processes.watch() or processes.nodes['bad'].exits, 20.0)
    assert processes.running() == ['a']
    assert wait_for(lambda: sink.has('[a] ready domain=42'), 20.0)
    processes.stop(signal.SIGTERM, timeout_s=10.0)

    assert sink.has('[bad] boom', '[a] got SIGTERM')
    assert processes.failed() == ['bad']
    assert 'bad: exit 3' in processes.report().splitlines()


def test_a_node_that_ignores_the_signal_is_killed_with_its_process_group():
    sink = Sink()
    processes = _start(['stubborn'], sink)
    assert wait_for(lambda: sink.starting('[stubborn] ready helper='), 20.0)
    helper = int(sink.starting('[stubborn] ready helper=')[0].split('=')[1])

    start = time.monotonic()
    processes.stop(signal.SIGINT, timeout_s=0.5)

    assert time.monotonic() - start < 5.0
    assert processes.report() == 'stubborn: killed by SIGKILL (SIGKILL after the stop timeout)'
    assert processes.failed() == ['stubborn']
    assert wait_for(lambda: not _alive(helper), 5.0), 'the helper in its group must die too'


def _alive(pid):
    try:
        state = Path(f'/proc/{pid}/stat').read_text().split(')')[-1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != 'Z'


def test_a_respawning_node_is_restarted_up_to_the_limit_then_reported():
    sink = Sink()
    processes = run.start_graph([spec('bad', respawn=True)], '', [], 42, command=dummy_command,
                                sink=sink, respawn_delay_s=0.0, max_respawns=2)

    status = run.supervise(processes, run.StopRequest(), poll_s=0.02)

    assert status == 1
    assert processes.nodes['bad'].exits == [3, 3, 3]
    assert processes.report() == 'bad: exit 3, exit 3, exit 3 (respawned 2x)'
    assert sink.starting('[bad] boom') == ['[bad] boom'] * 3


def test_supervise_returns_zero_when_every_node_ends_cleanly():
    SCRIPTS['done'] = "print('done', flush=True)"
    processes = _start(['done'], Sink())
    assert run.supervise(processes, run.StopRequest(), poll_s=0.02) == 0


DRIVER = textwrap.dedent("""
    import logging, sys
    sys.path.insert(0, {tests!r})
    from test_run import dummy_command, spec
    from dagger_ros import run
    logging.basicConfig(level=logging.INFO, format='runner: %(message)s')
    names = sys.argv[1].split(',')
    sys.exit(run.run_graph([spec(n) for n in names], '', [], 42,
                           stop_timeout_s=float(sys.argv[2]), command=dummy_command))
""").format(tests=str(Path(__file__).parent))


class Driver:
    """The runner in its own process (signal handlers need a main thread), output collected."""

    def __init__(self, names, stop_timeout_s):
        self.proc = subprocess.Popen(
            [sys.executable, '-c', DRIVER, ','.join(names), str(stop_timeout_s)], cwd=REPO,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.sink = Sink()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        for line in self.proc.stdout:
            self.sink.write(line)

    def finish(self, timeout_s):
        try:
            return self.proc.wait(timeout=timeout_s)
        finally:
            self.proc.kill()
            self._thread.join(timeout=5.0)


@pytest.mark.parametrize('sig', [signal.SIGINT, signal.SIGTERM])
def test_signal_to_the_runner_is_forwarded_to_every_node(sig):
    driver = Driver(['a', 'b'], stop_timeout_s=10.0)
    assert wait_for(lambda: driver.sink.has('[a] ready domain=42', '[b] ready domain=42'), 30.0)

    driver.proc.send_signal(sig)

    assert driver.finish(20.0) == 0
    assert driver.sink.has(f'[a] got {sig.name}', f'[b] got {sig.name}',
                           'runner: a: exit 0', 'runner: b: exit 0')


def test_second_ctrl_c_kills_at_once_and_the_runner_reports_failure():
    driver = Driver(['stubborn', 'a'], stop_timeout_s=30.0)
    assert wait_for(lambda: driver.sink.has('[a] ready domain=42')
                    and driver.sink.starting('[stubborn] ready'), 30.0)

    driver.proc.send_signal(signal.SIGINT)
    assert wait_for(lambda: driver.sink.has('[a] got SIGINT'), 20.0)
    start = time.monotonic()
    driver.proc.send_signal(signal.SIGINT)

    assert driver.finish(20.0) == 1
    assert time.monotonic() - start < 10.0, 'the second Ctrl-C must not wait for the timeout'
    assert driver.sink.has('runner: stubborn: killed by SIGKILL (SIGKILL after the stop timeout)',
                           'runner: a: exit 0', 'runner: nodes that failed: stubborn')


def test_missing_params_file_is_refused_before_anything_starts(caplog):
    assert run.main(['--params-file', '/no/such/params.yaml']) == 2
    assert "params file(s) not found: ['/no/such/params.yaml']" in caplog.text


@pytest.mark.parametrize('argv, match', [
    (['--set', 'epochs=3'], 'expects node.param=value'),
    (['--remap', 'observation'], 'expects from:=to'),
    (['--domain-id', '999'], 'must be auto or 0..232'),
])
def test_bad_runner_arguments_are_named(tmp_path, caplog, argv, match):
    params = tmp_path / 'sim.yaml'
    params.write_text('{}\n')
    assert run.main(['--params-file', str(params), *argv]) == 2
    assert match in caplog.text
