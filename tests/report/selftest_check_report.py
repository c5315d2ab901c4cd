#!/usr/bin/env python3
"""Proves check_report.py both passes a good report and fails broken ones.

    selftest_check_report.py [--keep DIR]

Assembles the sample data into a page the way `twin report` does, then checks it and a few
broken variants: a field a section needs is missing, a script throws after rendering, the
page refers to a remote stylesheet, report.js is absent. Exit 0 when every case ends as
expected, 1 otherwise, 77 when there is no Chromium (as check_report.py).
"""
import argparse
import copy
import json
import pathlib
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from assemble_report import REPO, assemble  # noqa: E402

DYGRAPH = pathlib.Path("/usr/share/javascript/dygraphs")
SAMPLE = json.loads((HERE / "sample_report_data.json").read_text(encoding="utf-8"))


def without_forecast(d):
    del d["sensors"][1]["forecast"]


# name, change to the data, change to the page, expected exit, text the failure must mention
CASES = [
    ("sample", None, None, 0, None),
    ("missing_field", without_forecast, None, 1, "missing field sensors"),
    ("throws_later", None, lambda h: h.replace("</body>", "<script>setTimeout(function () { null.x; }, 5);</script></body>"), 1,
     "rendering error"),
    ("remote_stylesheet", None, lambda h: h.replace("</head>", '<link rel="stylesheet" href="https://example.com/a.css"></head>'), 1,
     "not self-contained"),
    ("no_report_js", None, lambda h: h[: h.rindex("<script>")] + "</body></html>\n", 1, "no #report-status"),
]


def have_pil():
    try:
        import PIL  # noqa: F401
        return True
    except ImportError:
        print("note: no Pillow for this Python, the screenshot check is left out")
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", type=pathlib.Path, help="write the pages and the screenshot here instead of a temporary folder")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="twin-report-selftest-") as tmp:
        out = args.keep or pathlib.Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        failures = []
        for name, change_data, change_page, expected, must_say in CASES:
            data = copy.deepcopy(SAMPLE)
            if change_data:
                change_data(data)
            page = assemble(data, DYGRAPH, REPO / "src" / "report")
            if change_page:
                page = change_page(page)
            path = out / f"{name}.html"
            path.write_text(page, encoding="utf-8")
            cmd = [sys.executable, str(HERE / "check_report.py"), str(path), "--min-charts", "12"]
            if name == "sample" and have_pil():
                cmd += ["--screenshot", str(out / "sample.png")]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode == 77:
                print(r.stderr.strip())
                return 77
            said = r.stdout + r.stderr
            ok = r.returncode == expected and (must_say is None or must_say in said)
            print(f"{'ok  ' if ok else 'FAIL'} {name}: exit {r.returncode} (expected {expected})")
            if not ok:
                failures.append(name)
                print("     " + said.strip().replace("\n", "\n     "))
        if failures:
            print("selftest: FAIL: " + ", ".join(failures))
            return 1
        print(f"selftest: OK: {len(CASES)} cases")
        return 0


if __name__ == "__main__":
    sys.exit(main())
