"""Training under tf.distribute: default strategy here, MirroredStrategy over 2 logical CPUs."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import tensorflow as tf

from debvader_euclid.training import default_strategy, load_stage

MIRRORED = textwrap.dedent(
    """
    import json, sys
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from debvader_euclid.training import train_vae

    data, out, config = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert strategy.num_replicas_in_sync == 2
    result = train_vae(data, out, config=config, strategy=strategy, verbose=0)
    print("STATUS", result.status, result.epochs_completed)
    """
)


def test_default_strategy_on_a_single_device() -> None:
    if len(tf.config.list_logical_devices("GPU")) <= 1:
        assert default_strategy() is tf.distribute.get_strategy()
        assert default_strategy().num_replicas_in_sync == 1


def test_mirrored_strategy_needs_no_code_change(
    isolated_data: Path, tmp_path: Path, tiny_config
) -> None:
    out = tmp_path / "vae"
    config = tiny_config(epochs=2)
    env_python = sys.executable
    proc = subprocess.run(
        [env_python, "-c", MIRRORED, str(isolated_data), str(out), json.dumps(config)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "STATUS complete 2" in proc.stdout
    networks, info = load_stage(out)  # loads on a single device
    assert info["provenance"]["status"] == "complete"
    assert networks.predict(tf.zeros((2, 32, 32)).numpy()).shape == (2, 32, 32)
