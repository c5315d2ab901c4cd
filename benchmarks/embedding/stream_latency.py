#!/usr/bin/env python3
"""From reading to advice through the stream source, as an out-of-process facility sees it: a
writer sends every sensor's reading at the end of each period, in real time, into a FIFO that
`twin run` reads (source.type stream), and a reader takes the advice lines from a second FIFO.
The latency of a period is from its readings written to its advice read. Prints one JSON object
with p50/p99 [ms], beside the twin's own reading_to_advice_ms from summary.json.

    benchmarks/embedding/stream_latency.py build/bin/twin [CYCLES] [PERIOD_S]   (default 30, 1.0)
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BASE = os.path.join(HERE, "..", "..", "tests", "data", "stream_plate.yaml")


def percentile(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q * (len(v) - 1))))] if v else None


def main(twin, cycles, period):
    tmp = tempfile.mkdtemp(prefix="twin_stream_latency_")
    fin, fout = os.path.join(tmp, "readings.fifo"), os.path.join(tmp, "advice.fifo")
    os.mkfifo(fin)
    os.mkfifo(fout)
    text = open(BASE).read()
    text = re.sub(r"control_period_s: [0-9.]+", "control_period_s: %g" % period, text)
    text = re.sub(r"cycles: [0-9]+", "cycles: %d" % cycles, text)
    text = re.sub(r"source: \{.*\}", "source: {type: stream, stream_input: %s, advice_output: %s, silence_s: %g}"
                  % (fin, fout, 5 * period), text)
    config = os.path.join(tmp, "stream_latency.yaml")
    open(config, "w").write(text)
    sensors = re.findall(r"name: (S[0-9]+), position_m", text)

    received = {}

    def read_advice():
        with open(fout) as advice:
            for line in advice:
                received[json.loads(line)["cycle"]] = time.perf_counter()

    reader = threading.Thread(target=read_advice, daemon=True)
    reader.start()
    run = subprocess.Popen([twin, "run", config, "--run-dir", os.path.join(tmp, "run"), "--overwrite"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    sent = {}
    with open(fin, "w") as readings:
        start = time.perf_counter()
        for n in range(cycles):
            time.sleep(max(0.0, start + (n + 1) * period - time.perf_counter()))
            t = (n + 1) * period
            for i, s in enumerate(sensors):
                readings.write('{"t": %g, "sensor": "%s", "value": %.3f}\n' % (t, s, 294.0 + 0.1 * i))
            readings.flush()
            sent[n + 1] = time.perf_counter()
    _, err = run.communicate(timeout=60 + 5 * period * cycles)
    reader.join(timeout=10)
    if run.returncode != 0:
        sys.exit("twin run failed (%d):\n%s" % (run.returncode, err))
    latency = [1000.0 * (received[c] - sent[c]) for c in sent if c in received]
    summary = json.load(open(os.path.join(tmp, "run", "summary.json")))
    print(json.dumps({"benchmark": "stream_latency", "cycles": cycles, "period_s": period,
                      "advice_lines": len(received), "periods_measured": len(latency),
                      "reading_to_advice_ms_outside": {"p50": percentile(latency, 0.5), "p99": percentile(latency, 0.99),
                                                       "max": max(latency) if latency else None},
                      "reading_to_advice_ms_inside": summary.get("reading_to_advice_ms"),
                      "cycle_ms": summary.get("cycle_ms"), "deadline_misses": summary.get("deadline_misses")}, indent=1))
    return 0 if len(latency) == cycles else 1


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: stream_latency.py TWIN [CYCLES] [PERIOD_S]")
    sys.exit(main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 30,
                  float(sys.argv[3]) if len(sys.argv) > 3 else 1.0))
