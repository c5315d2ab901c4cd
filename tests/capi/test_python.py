"""The Python binding (src/capi/python/twinrt.py) on a small twin, single process: errors raise
TwinError with the C API's status and message; a closed loop keeps its controls in the envelope
and its estimates finite; a snapshot restored into a fresh twin continues exactly as the
uninterrupted run.

    TWINRT_LIBRARY=build/lib/libtwinrt.so PYTHONPATH=src/capi/python python3 tests/capi/test_python.py CONFIG SCRATCH
"""
import os
import shutil
import sys
import unittest

import numpy as np

import twinrt

CONFIG, SCRATCH = sys.argv[1], sys.argv[2]
del sys.argv[1:3]


def readings(twin, cycle, controls):
    """The toy facility's readings for `cycle` under `controls`."""
    n = len(twin.sensors)
    s = np.arange(n)
    values = 293.15 + 2.0 * controls.sum() + 0.1 * s + 0.05 * np.sin(0.3 * cycle + s)
    return np.full(n, (cycle + 1) * twin.control_period), s, values


def loop(twin, first, cycles):
    controls = np.full(len(twin.controls), 0.6)
    for c in range(first, first + cycles):
        twin.ingest(*readings(twin, c, controls))
        advice = twin.step(5000.0)
        controls = advice.controls
        assert advice.mode == "advisor_off", advice
        assert np.all(controls >= 0.0) and np.all(controls <= 1.5), controls
    return controls


class Binding(unittest.TestCase):
    def test_errors_are_exceptions_with_status_and_message(self):
        with self.assertRaises(twinrt.TwinError) as e:
            twinrt.Twin("/nonexistent/twin.yaml")
        self.assertEqual(e.exception.status, "TWIN_ERROR_CONFIG")
        self.assertIn("/nonexistent/twin.yaml", str(e.exception))
        with self.assertRaises(twinrt.TwinError) as e:
            twinrt.Twin(yaml="twin: {name: x, cycles: -3}\n")
        self.assertIn("cycles", str(e.exception))
        with twinrt.Twin(CONFIG) as twin:
            with self.assertRaises(twinrt.TwinError) as e:
                twin.ingest([10.0], [len(twin.sensors)], [300.0])
            self.assertEqual(e.exception.status, "TWIN_ERROR_ARGUMENT")
            self.assertIn("sensor index 6", str(e.exception))
            with self.assertRaises(twinrt.TwinError) as e:
                twin.apply_controls([float("nan"), 0.5])
            self.assertEqual(e.exception.status, "TWIN_ERROR_DATA")
            with self.assertRaises(ValueError):
                twin.apply_controls([0.5])
            self.assertEqual(twin.cycle, 0)
        with self.assertRaises(twinrt.TwinError):
            twin.step()  # closed

    def test_closed_loop_names_and_estimates(self):
        with twinrt.Twin(CONFIG) as twin:
            self.assertEqual(twin.sensors, ["S1", "S2", "S3", "S4", "S5", "S6"])
            self.assertEqual(twin.controls, ["H1", "H2"])
            self.assertEqual(twin.parameters, ["diffusivity_factor", "cooling_factor"])
            twin.ingest([10.0, 10.0], ["S1", "no_such_sensor"], [294.0, 1.0])  # unknown names go to QC
            loop(twin, 0, 5)
            self.assertEqual(twin.cycle, 5)
            mean, spread = twin.sensor_estimates()
            self.assertTrue(np.all(np.isfinite(mean)) and np.all(spread >= 0.0))
            self.assertLess(abs(mean[0] - 294.0), 20.0)
            pmean, pspread = twin.parameter_estimates()
            self.assertTrue(0.3 < pmean[0] < 3.0 and pspread[0] > 0.0)
            info = twin.step_info()
            self.assertGreater(info["accepted"], 0)
            self.assertEqual(info["accepted"] + info["rejected"], 6)  # every reading accounted for
            self.assertFalse(info["deadline_missed"])
            buf = np.zeros(len(twin.controls))
            advice = twin.step(5000.0, out=buf)
            self.assertIs(advice.controls, buf)  # written in place
            self.assertIsInstance(advice.reason, str)
            with self.assertRaises(ValueError):
                twin.step(5000.0, out=np.zeros(3))
            self.assertEqual(twin.cycle, 6)  # the refused step did not run

    def test_snapshot_restored_continues_identically(self):
        state = os.path.join(SCRATCH, "python_state")
        shutil.rmtree(state, ignore_errors=True)
        with twinrt.Twin(CONFIG) as twin:
            loop(twin, 0, 4)
            twin.save_snapshot(state)
            straight = loop(twin, 4, 3)
        with twinrt.Twin(CONFIG) as twin:
            twin.restore(state)
            self.assertEqual(twin.cycle, 4)
            restored = loop(twin, 4, 3)
        np.testing.assert_allclose(restored, straight, rtol=0, atol=1e-9)


if __name__ == "__main__":
    print("twinrt", twinrt.version(), "from", twinrt.library()._name)
    unittest.main(verbosity=2)
