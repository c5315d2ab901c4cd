#!/usr/bin/env python3
"""Assemble report.html from a report data JSON the way `twin report` does, for testing the page.

    assemble_report.py DATA.json OUT.html [--dygraph-dir DIR] [--report-dir DIR]

The layout below is the contract with the C++ writer: the same pieces in the same order. Two
escapes matter there too: the twin name in <title> is HTML-escaped, and in the data JSON every
"</" is written "<\\/" (still valid JSON and JavaScript) so that a reason or name containing
"</script>" cannot end the data script early.
"""
import argparse
import html
import json
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent.parent


def data_json(data) -> str:
    # allow_nan=False: the runtime writes null for non-finite numbers, and NaN is not JSON.
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.replace("</", "<\\/")


def assemble(data, dygraph_dir: pathlib.Path, report_dir: pathlib.Path, data_text=None) -> str:
    read = lambda p: p.read_text(encoding="utf-8")
    name = data.get("twin", "") if isinstance(data, dict) else ""
    return "".join([
        '<!doctype html><html><head><meta charset="utf-8"><title>twin report: ',
        html.escape(str(name)), "</title>\n",
        "<style>", read(dygraph_dir / "dygraph.min.css"), "</style>\n",
        "<style>", read(report_dir / "report.css"), "</style>\n",
        "<script>", read(dygraph_dir / "dygraph.min.js"), "</script>\n",
        "</head><body>\n",
        "<script>window.TWIN_REPORT = ", data_text if data_text is not None else data_json(data), ";</script>\n",
        "<script>", read(report_dir / "report.js"), "</script>\n",
        "</body></html>\n",
    ])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", type=pathlib.Path)
    ap.add_argument("out", type=pathlib.Path)
    ap.add_argument("--dygraph-dir", type=pathlib.Path, default=pathlib.Path("/usr/share/javascript/dygraphs"))
    ap.add_argument("--report-dir", type=pathlib.Path, default=REPO / "src" / "report")
    args = ap.parse_args()
    data = json.loads(args.data.read_text(encoding="utf-8"))
    args.out.write_text(assemble(data, args.dygraph_dir, args.report_dir), encoding="utf-8")
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
