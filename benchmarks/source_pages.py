"""Large source pages open at once (issue 12, item 2): load time of the largest page and how it scales.

The site is built (``mkdocs build --strict`` of the project's mkdocs.yml, into a temporary folder;
the build cache makes this quick after `make site`) and served by Python's http.server on
127.0.0.1.  In ONE headless Chromium session (Debian's /usr/bin/chromium driven by Playwright) the
largest source page of the build (by lines) and a page about five times shorter (the indexed file
whose line count is closest to a fifth of the largest's) are loaded in turn, LOADS times each,
each load in a new browser context (an empty cache): navigation start → end of the load event,
with Chromium's accounting of the main thread (style, layout, script).  Any request to another
host is aborted and counted.

Targets: the largest page ≤ 1 s (median), and the ratio of the two medians ≤ 1.5 for files about
5x apart in length (the ratio of their lines is reported too).

Run alone: ``.venv/bin/python benchmarks/source_pages.py [--site DIR]`` (DIR: an already built site).
"""

from __future__ import annotations

import argparse
import functools
import http.server
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, BenchmarkError, Result, Target, log, run_alone

NAME = "source_pages"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
LOADS = 5
LARGEST_LIMIT_S = 1.0
RATIO_LIMIT = 1.5

METRICS_JS = """() => {
    const n = performance.getEntriesByType('navigation')[0];
    return {load_event_end: n.loadEventEnd / 1000, dom_content_loaded_end: n.domContentLoadedEventEnd / 1000,
            elements: document.getElementsByTagName('*').length};
}"""
CDP = {"RecalcStyleDuration": "style_s", "LayoutDuration": "layout_s", "ScriptDuration": "script_s",
       "TaskDuration": "main_thread_s"}


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def build(site_dir: Path) -> float:
    t0 = time.perf_counter()
    env = {"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(site_dir)],
                            cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise BenchmarkError(f"mkdocs build failed: {(result.stdout + result.stderr).strip()[-600:]}")
    return time.perf_counter() - t0


def pick_pages(site_dir: Path) -> tuple[tuple[str, int], tuple[str, int]]:
    """(KERNEL/source/path, lines) of the largest source page of every kernel of the site and of the
    one closest to a fifth of its lines."""
    sizes: dict[str, int] = {}
    for root in sorted(site_dir.glob("*/source")):
        for page in root.rglob("index.html"):
            rel = page.parent.relative_to(site_dir).as_posix()
            if rel.endswith((".c", ".h")):
                sizes[rel] = page.read_bytes().count(b'<span id="L')
    if len(sizes) < 2:
        raise BenchmarkError(f"the build has fewer than two source pages under {site_dir}/*/source")
    largest = max(sizes, key=lambda p: (sizes[p], p))
    fifth = sizes[largest] / 5
    small = min((p for p in sizes if p != largest), key=lambda p: (abs(sizes[p] - fifth), p))
    return (largest, sizes[largest]), (small, sizes[small])


def measure(site_dir: Path, paths: list[str], loads: int = LOADS) -> dict[str, dict[str, object]]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise BenchmarkError(f"playwright is not installed in the venv ({exc}): run `make setup`") from exc
    if not Path(CHROMIUM).exists():
        raise BenchmarkError(f"{CHROMIUM} is missing: `make setup` installs Debian's chromium")
    handler = functools.partial(_Quiet, directory=str(site_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    allowed = urlsplit(base).netloc
    runs: dict[str, list[dict[str, float]]] = {p: [] for p in paths}
    foreign: list[str] = []
    errors: list[str] = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                for _ in range(loads):
                    for path in paths:  # side by side: the pages alternate in one browser session
                        context = browser.new_context()

                        def guard(route, foreign: list[str] = foreign) -> None:  # type: ignore[no-untyped-def]
                            if urlsplit(route.request.url).netloc != allowed:
                                foreign.append(route.request.url)
                                route.abort()
                            else:
                                route.continue_()

                        context.route("**/*", guard)
                        page = context.new_page()
                        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                        page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
                        cdp = context.new_cdp_session(page)
                        cdp.send("Performance.enable")
                        page.goto(f"{base}{path}/", wait_until="load", timeout=60_000)
                        page.wait_for_function("performance.getEntriesByType('navigation')[0].loadEventEnd > 0")
                        figures = page.evaluate(METRICS_JS)
                        metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
                        figures.update({key: metrics[name] for name, key in CDP.items() if name in metrics})
                        runs[path].append(figures)
                        context.close()
            finally:
                browser.close()
    finally:
        server.shutdown()
        server.server_close()
    out: dict[str, dict[str, object]] = {}
    for path, loads_of in runs.items():
        out[path] = {
            "load_event_end_median_s": round(statistics.median(x["load_event_end"] for x in loads_of), 3),
            "load_event_end_max_s": round(max(x["load_event_end"] for x in loads_of), 3),
            **{f"{k}_median": round(statistics.median(x[k] for x in loads_of), 3) for k in ("style_s", "layout_s", "script_s", "main_thread_s")
               if all(k in x for x in loads_of)},
            "elements": int(loads_of[0]["elements"]),
        }
    out["_"] = {"requests_to_other_hosts": sorted(set(foreign)), "console_errors": sorted(set(errors))}
    return out


def run(site: Path | None = None) -> Result:
    with tempfile.TemporaryDirectory(prefix="kx-bench-pages-") as tmp:
        site_dir = site or Path(tmp) / "site"
        build_s = None
        if site is None:
            log("source pages: building the site (the build cache makes this quick after `make site`)")
            build_s = build(site_dir)
        (large, large_lines), (small, small_lines) = pick_pages(site_dir)
        log(f"source pages: {large} ({large_lines} lines) and {small} ({small_lines} lines), {LOADS} loads each, alternating")
        figures = measure(site_dir, [large, small])
    big, little = figures[large], figures[small]
    ratio = float(big["load_event_end_median_s"]) / max(float(little["load_event_end_median_s"]), 1e-6)  # type: ignore[arg-type]
    lines_ratio = large_lines / max(small_lines, 1)
    for path, lines in ((large, large_lines), (small, small_lines)):
        f = figures[path]
        log(f"  {path}: {lines} lines, {f['elements']} elements, load event {f['load_event_end_median_s']} s median "
            f"(max {f['load_event_end_max_s']}), style {f.get('style_s_median')} s, layout {f.get('layout_s_median')} s, "
            f"script {f.get('script_s_median')} s")
    log(f"  ratio of the medians: {ratio:.2f} for {lines_ratio:.1f}x the lines; other hosts: {len(figures['_']['requests_to_other_hosts'])}, "  # type: ignore[arg-type]
        f"console errors: {len(figures['_']['console_errors'])}")  # type: ignore[arg-type]
    result = Result(NAME, figures={"build_s": build_s, "largest": {"path": large, "lines": large_lines, **big},
                                "smaller": {"path": small, "lines": small_lines, **little},
                                "ratio": round(ratio, 2), "lines_ratio": round(lines_ratio, 2), **figures["_"]})
    result.targets = [
        Target("largest source page to its load event", float(big["load_event_end_median_s"]), "s", LARGEST_LIMIT_S,  # type: ignore[arg-type]
               note=large),
        Target("load time ratio of two source pages", round(ratio, 2), "x", RATIO_LIMIT,
               note=f"{lines_ratio:.1f}x the lines: {large_lines} and {small_lines}"),
    ]
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, help="an already built site folder (default: build one)")
    args = parser.parse_args()
    return run_alone(NAME, lambda: run(args.site))


if __name__ == "__main__":
    sys.exit(main())
