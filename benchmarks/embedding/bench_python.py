#!/usr/bin/env python3
"""What the Python binding (src/capi/python/twinrt.py) adds per call. In a closed loop: the wall
time of Twin.step() minus the time Runtime::step measured inside it (the C API and Python
together), and the wall time of Twin.ingest() and Twin.sensor_estimates() (with the C work they
do, right after a step has flushed the caches). Warm: the same calls repeated back to back, and
the raw ctypes call of twin_sensor_estimates with prepared arguments (what any Python caller
pays). Prints one JSON object (microseconds). Issue 17's target: under 50 us per call.

    PYTHONPATH=src/capi/python TWINRT_LIBRARY=build/lib/libtwinrt.so \\
        /usr/bin/python3 benchmarks/embedding/bench_python.py [CONFIG.yaml] [CYCLES]
"""
import ctypes
import json
import sys
import time

import numpy as np

import twinrt


def main(config, cycles):
    step_extra, raw_step_extra, ingest_us, estimates_us = [], [], [], []
    with twinrt.Twin(config) as twin:
        n = len(twin.sensors)
        idx = np.arange(n)
        controls = np.zeros(len(twin.controls))
        lib, raw_out, buf = twinrt.library(), np.zeros(len(twin.controls)), np.zeros(len(twin.controls))
        raw_mode, raw_reason = ctypes.addressof(ctypes.c_int()), ctypes.create_string_buffer(512)
        for c in range(cycles):
            values = 293.15 + 2.0 * controls.sum() + 0.3 * np.sin(0.2 * c + idx)
            times = np.full(n, (c + 1) * twin.control_period)
            t0 = time.perf_counter()
            twin.ingest(times, idx, values)
            ingest_us.append(1e6 * (time.perf_counter() - t0))
            # Odd cycles call twin_step through ctypes directly, with prepared arguments: the
            # floor any Python caller pays (cold caches after the step included).
            t0 = time.perf_counter()
            if c % 2 == 0:
                controls = twin.step(1e6, out=buf).controls  # the controls into a preallocated array
            else:
                lib.twin_step(twin._h, 1e6, raw_out.ctypes.data, len(raw_out), raw_mode, raw_reason, 512)
            wall = 1e6 * (time.perf_counter() - t0)
            (step_extra if c % 2 == 0 else raw_step_extra).append(wall - 1000.0 * twin.step_info()["total_ms"])
            t0 = time.perf_counter()
            twin.sensor_estimates()
            estimates_us.append(1e6 * (time.perf_counter() - t0))
        warm = {}
        values = 293.15 + idx * 0.1
        times = np.full(n, (cycles + 1) * twin.control_period)
        for name, call in (("ingest", lambda: twin.ingest(times, idx, values)),
                           ("sensor_estimates", twin.sensor_estimates),
                           ("step_info", twin.step_info),
                           ("raw_ctypes_sensor_estimates",
                            lambda m=np.empty(n), s=np.empty(n), lib=twinrt.library(), h=twin._h:
                            lib.twin_sensor_estimates(h, n, m.ctypes.data, s.ctypes.data))):
            xs = []
            for _ in range(100):  # 600 readings wait: under the runtime's queue bound
                t0 = time.perf_counter()
                call()
                xs.append(1e6 * (time.perf_counter() - t0))
            warm[name] = float(np.percentile(xs, 50))
    p = lambda v, q: float(np.percentile(v, q))
    print(json.dumps({"benchmark": "bench_python", "config": config, "cycles": cycles, "twinrt": twinrt.version(),
                      "step_overhead_us": {"p50": p(step_extra, 50), "p99": p(step_extra, 99)},
                      "raw_ctypes_step_overhead_us": {"p50": p(raw_step_extra, 50), "p99": p(raw_step_extra, 99)},
                      "ingest_us": {"p50": p(ingest_us, 50), "p99": p(ingest_us, 99)},
                      "sensor_estimates_us": {"p50": p(estimates_us, 50), "p99": p(estimates_us, 99)},
                      "warm_p50_us": warm,
                      "target_us_per_call": 50}, indent=1))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/data/small_plate.yaml",
         int(sys.argv[2]) if len(sys.argv) > 2 else 50)
