#!/usr/bin/env python3
"""Check a `twin report` page in headless Chromium.

    check_report.py REPORT_HTML [--screenshot OUT.png] [--min-charts N] [--chromium PATH]

Loads the page with Chromium, reads the health the page records about itself in the dumped
DOM (#report-status: data-state, data-errors, data-charts, data-points; data-chart-points on
each chart) and fails when a section failed to render, a chart has no points, there are fewer
charts than asked for, or the page refers to anything outside itself. With --screenshot it also
renders the page to a PNG and checks that the image is not blank.

Exit status: 0 the report is fine; 1 a check failed (each failure is printed); 77 no Chromium
was found (a skip for CTest's SKIP_RETURN_CODE). --screenshot needs Pillow (Debian:
python3-pil, importable by /usr/bin/python3).
"""
import argparse
import html.parser
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SKIP = 77
WINDOW = (1400, 4000)


class Failed(Exception):
    pass


# ------------------------------------------------------------------ HTML inspection

# Attributes through which a page makes the browser fetch something.
FETCHING_ATTRS = {"src", "href", "srcset", "poster", "data", "action", "formaction", "xlink:href", "background"}
REMOTE = re.compile(r"^\s*(https?:)?//", re.I)
CSS_REMOTE = re.compile(r"url\(\s*['\"]?\s*(https?:)?//|@import", re.I)


class PageParser(html.parser.HTMLParser):
    """Collects what the checks need from a page: external references, the status element,
    the charts, the text of the error boxes and the page's text (outside scripts and styles)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.external = []      # "tag attr=value" of references that leave the page
        self.status = None      # attributes of #report-status
        self.charts = []        # (title, points or None)
        self.errors = []        # text of the .report-error boxes
        self.text = []          # the page's text, outside <script> and <style>
        self._in_style = False
        self._in_script = False
        self._error_depth = 0   # >0 while inside a visible .report-error
        self._error_text = []
        self._depth = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for name, value in attrs:
            if name in FETCHING_ATTRS and value is not None:
                # A fragment link (#sensors) stays on the page; a data: URI is inline.
                # Anything else on a fetching tag would be loaded from outside the file.
                inline = value.startswith("#") or value.lower().startswith("data:")
                if REMOTE.match(value) or (not inline and tag in {"script", "link", "img", "iframe", "embed", "object", "source", "video", "audio"}):
                    self.external.append(f"<{tag} {name}={value!r}>")
        if a.get("id") == "report-status":
            self.status = a
        if "data-chart-points" in a:
            pts = a["data-chart-points"]
            self.charts.append((a.get("data-chart", f"chart {len(self.charts) + 1}"), int(pts) if pts.isdigit() else None))
        if tag == "style":
            self._in_style = True
        if tag == "script":
            self._in_script = True
        if tag in VOID:
            return
        self._depth += 1
        if self._error_depth:
            self._error_depth += 1
        # The banner at the top only counts the boxes; the boxes say what went wrong.
        elif "report-error" in (a.get("class") or "").split() and a.get("id") != "report-banner":
            self._error_depth = 1
            self._error_text = []

    def handle_endtag(self, tag):
        if tag == "style":
            self._in_style = False
        if tag == "script":
            self._in_script = False
        if tag in VOID:
            return
        self._depth -= 1
        if self._error_depth:
            self._error_depth -= 1
            if self._error_depth == 0:
                self.errors.append(" ".join("".join(self._error_text).split()))

    def handle_data(self, data):
        if self._in_style and CSS_REMOTE.search(data):
            self.external.append("<style> with " + CSS_REMOTE.search(data).group(0))
        if self._error_depth:
            self._error_text.append(data)
        if not self._in_style and not self._in_script:
            self.text.append(data)


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


def parse(text):
    p = PageParser()
    p.feed(text)
    p.close()
    return p


# ------------------------------------------------------------------ Chromium

def find_chromium(explicit):
    if explicit:
        return explicit if shutil.which(explicit) else None
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def run_chromium(binary, url, extra, timeout):
    """Runs one headless Chromium with a throwaway profile; returns (stdout, stderr)."""
    with tempfile.TemporaryDirectory(prefix="twin-report-chromium-") as profile:
        cmd = [
            binary,
            "--headless=new",
            # Chromium refuses to run as root with its sandbox; the page is our own file.
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            f"--user-data-dir={profile}",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--mute-audio",
            "--hide-scrollbars",
            # Any host lookup fails, so a page that tried to fetch something could not succeed.
            "--host-resolver-rules=MAP * ~NOTFOUND",
            # Lets the page's scripts run to completion before the DOM or screenshot is taken.
            "--virtual-time-budget=10000",
            # Console messages (including uncaught exceptions) go to stderr as INFO:CONSOLE lines.
            "--enable-logging=stderr",
            "--v=0",
        ] + extra + [url]
        env = dict(os.environ, HOME=profile)
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                cwd=profile, start_new_session=True)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # its own session: the renderer and GPU helpers go too
            proc.communicate()
            raise Failed(f"chromium did not finish within {timeout} s")
        if proc.returncode != 0 and not out:
            tail = "\n".join(err.decode(errors="replace").splitlines()[-15:])
            raise Failed(f"chromium exited with status {proc.returncode}:\n{tail}")
        return out.decode("utf-8", errors="replace"), err.decode("utf-8", errors="replace")


CONSOLE = re.compile(r':CONSOLE[:(]\d*\)?\]\s*"(.*)", source: (\S*) \((\d+)\)', re.S)


def console_messages(stderr):
    """The page's console messages from Chromium's log; a message may span several lines."""
    msgs = []
    for block in re.split(r"\n(?=\[\d+:\d+:)", stderr):
        m = CONSOLE.search(block)
        if m:
            msgs.append(m.group(1))
    return msgs


# ------------------------------------------------------------------ checks

def check_dom(dom, min_charts):
    page = parse(dom)
    problems = []
    if page.status is None:
        raise Failed("no #report-status element in the rendered page: report.js did not run "
                     "(missing, a syntax error, or the page did not load)")
    st = page.status

    def attr(name):
        v = st.get(name)
        if v is None or not v.isdigit():
            problems.append(f"#report-status has no numeric {name} (got {v!r})")
            return 0
        return int(v)

    errors, charts, points = attr("data-errors"), attr("data-charts"), attr("data-points")
    if st.get("data-state") != "done":
        problems.append(f"the report did not finish rendering (data-state={st.get('data-state')!r})")
    if errors > 0:
        detail = "".join(f"\n    - {e}" for e in page.errors)
        problems.append(f"the page recorded {errors} rendering error(s):{detail}")
    if charts < min_charts:
        problems.append(f"{charts} charts drawn, expected at least {min_charts}")
    if charts != len(page.charts):
        problems.append(f"#report-status counts {charts} charts but {len(page.charts)} chart containers carry data-chart-points")
    empty = [t for t, p in page.charts if not p]
    if empty:
        problems.append("chart(s) with no data points: " + ", ".join(repr(t) for t in empty))
    if sum(p or 0 for _, p in page.charts) != points:
        problems.append(f"data-points={points} but the charts' data-chart-points add up to {sum(p or 0 for _, p in page.charts)}")
    if page.external:
        problems.append("the rendered page refers to outside resources: " + ", ".join(page.external[:5]))
    return page, errors, charts, points, problems


def check_screenshot(png):
    try:
        from PIL import Image
    except ImportError:
        raise Failed("--screenshot needs Pillow (Debian: python3-pil; run this script with /usr/bin/python3)")
    im = Image.open(png).convert("RGB")
    w, h = im.size
    # Quantise to 4 bits a channel so anti-aliasing does not count as many colours.
    small = im.point(lambda v: v >> 4 << 4)
    hist = small.getcolors(maxcolors=w * h)
    hist.sort(reverse=True)
    ink = 1.0 - hist[0][0] / (w * h)  # the most common colour is the background
    # A colour that covers at least 40 pixels is a drawn thing, not an edge of one.
    colours = sum(1 for count, _ in hist if count >= 40)
    # Saturated pixels are the charts' lines, bands and shading; text and rules are grey.
    sat = sum(count for count, (r, g, b) in hist if max(r, g, b) - min(r, g, b) >= 48)
    problems = []
    if ink < 0.03:
        problems.append(f"screenshot is nearly blank: {ink:.1%} of pixels differ from the background")
    if colours < 8:
        problems.append(f"screenshot has only {colours} distinct colours: the charts did not draw")
    if sat < 0.005 * w * h:
        problems.append(f"screenshot has almost no coloured pixels ({sat} of {w * h}): the charts did not draw")
    return (w, h, ink, colours, sat / (w * h)), problems


def main():
    ap = argparse.ArgumentParser(description="Check a twin report page in headless Chromium.")
    ap.add_argument("report", type=pathlib.Path, help="report.html")
    ap.add_argument("--screenshot", type=pathlib.Path, metavar="OUT.png", help="also render to this PNG and check it is not blank")
    ap.add_argument("--min-charts", type=int, default=1, metavar="N", help="fail with fewer charts than this (default 1)")
    ap.add_argument("--expect-text", action="append", default=[], metavar="TEXT",
                    help="fail unless the DOM's text after rendering (outside scripts and styles; "
                         "whitespace normalised) has TEXT (repeatable)")
    ap.add_argument("--chromium", help="the Chromium binary (default: $CHROMIUM, then chromium on PATH)")
    ap.add_argument("--timeout", type=float, default=120, help="seconds each Chromium run may take (default 120)")
    args = ap.parse_args()

    started = time.monotonic()
    report = args.report.resolve()
    if not report.is_file():
        print(f"check_report: FAIL: {args.report} does not exist", file=sys.stderr)
        return 1
    binary = find_chromium(args.chromium)
    if not binary:
        print("check_report: SKIP: no chromium found (install chromium or pass --chromium)", file=sys.stderr)
        return SKIP

    problems = []
    try:
        source = parse(report.read_text(encoding="utf-8", errors="replace"))
        if source.external:
            problems.append("the page is not self-contained: " + ", ".join(source.external[:5]))

        dom, err = run_chromium(binary, report.as_uri(), ["--dump-dom"], args.timeout)
        page, errors, charts, points, dom_problems = check_dom(dom, args.min_charts)
        problems += dom_problems
        text = " ".join(" ".join(page.text).split())
        problems += [f"the rendered page does not say {t!r}" for t in args.expect_text if " ".join(t.split()) not in text]
        messages = console_messages(err)
        uncaught = [m for m in messages if m.startswith("Uncaught")]
        if uncaught:
            problems.append("uncaught exception(s) in the console: " + "; ".join(m.splitlines()[0] for m in uncaught[:5]))

        shot = ""
        if args.screenshot:
            out = args.screenshot.resolve()
            out.parent.mkdir(parents=True, exist_ok=True)
            if out.exists():
                out.unlink()
            run_chromium(binary, report.as_uri(), [f"--screenshot={out}", f"--window-size={WINDOW[0]},{WINDOW[1]}"], args.timeout)
            if not out.is_file():
                raise Failed(f"chromium wrote no screenshot to {out}")
            (w, h, ink, colours, sat), shot_problems = check_screenshot(out)
            problems += shot_problems
            shot = f"; screenshot {w}x{h}: {ink:.1%} ink, {colours} colours, {sat:.1%} coloured"
    except Failed as e:
        problems.append(str(e))

    elapsed = time.monotonic() - started
    if problems:
        print(f"check_report: FAIL: {args.report}", file=sys.stderr)
        for p in problems:
            print("  - " + p, file=sys.stderr)
        return 1
    print(f"check_report: OK: {args.report}: {charts} charts, {points:,} points, {errors} errors, "
          f"self-contained{shot} ({elapsed:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
