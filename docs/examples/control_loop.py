#!/usr/bin/env python3
"""Embedding twinrt in a Python control loop through twinrt.py (ctypes; numpy in and out): read
sensors, ingest, step, apply the advice, on a single process. The "facility" is a toy lumped
model. Built and run by the tests (example_control_loop_python).

    PYTHONPATH=src/capi/python TWINRT_LIBRARY=build/lib/libtwinrt.so \
        python3 docs/examples/control_loop.py tests/data/small_plate.yaml 10
"""
import sys

import numpy as np

import twinrt


def main(config, cycles):
    with twinrt.Twin(config) as twin:
        temperature = np.full(len(twin.sensors), 294.15)
        controls = np.zeros(len(twin.controls))
        indices = np.arange(len(twin.sensors))
        for _ in range(cycles):
            temperature += twin.control_period * (0.02 * controls.sum() - 1e-3 * (temperature - 293.15))
            twin.ingest(np.full(len(indices), twin.time + twin.control_period), indices, temperature)
            advice = twin.step()
            controls = advice.controls              # apply them to the facility here
            mean, spread = twin.sensor_estimates()
            print("cycle %d t=%.0f s mode=%s %s=%.3f first sensor %.2f +- %.2f" % (
                twin.cycle, twin.time, advice.mode, twin.controls[0], controls[0], mean[0], spread[0]))
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: control_loop.py CONFIG.yaml [CYCLES]")
    sys.exit(main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 10))
