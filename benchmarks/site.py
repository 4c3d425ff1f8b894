"""The published site (issue 4, items 7 and 8): build time, size, search index, render time, live editing.

1. **cold build**: one `mkdocs build --strict` of the project's mkdocs.yml into a temporary
   folder, wall time and CPU time (user + system of the child processes, from
   ``resource.getrusage(RUSAGE_CHILDREN)``).  mermaid comes from the cache outside the checkout
   (``~/.cache/kernel-explorer/npm/``); when that cache is empty the build downloads it
   once and the time includes the download (the report says which).  The plugin's build cache
   is pointed at an empty folder (``KEXPLORE_SITE_CACHE``): a cold build, as after `make clean`.
   Target ≤ 60 s.  Then the **warm builds** (issue 12): the same build again with nothing
   changed, and after one edit of docs/walkthrough/listen.md (a line appended, the file written
   back afterwards), each with the pages reused and built.  Target ≤ 5 s each.
2. **size** of the built site: disk usage (``du -s``: allocated blocks, hard links once) and
   apparent size (the bytes of the files), broken down into linux-6.1/source, linux-6.1/symbol,
   linux-6.1/_kx, assets and the rest; the number of files.  Targets ≤ 250 MB (du -s) and
   ≤ 20,000 files (issue 12, for the two-kernel site).
3. **search index**: the size of search/search_index.json (material loads it whole; our bound
   ≤ 10 MB), its number of entries, and a check that no source page (a URL with ``/source/``)
   is in it.
4. **render time** of linux-6.1/source/net/ipv4/tcp_input.c/ (the page issue 4 names as the
   largest), and of the largest source page of the build when that is another one, in
   headless Chromium (Debian's /usr/bin/chromium driven by Playwright), the built folder
   served by Python's http.server on 127.0.0.1: navigation start → end of the load event,
   median of 3 cold loads (a new browser context each, so an empty cache), with Chromium's
   own accounting of the main thread (style, layout, script).  Any request to another host
   is aborted and counted (target: none).  Target ≤ 2 s.
5. **live editing**: `mkdocs serve` on a free port; after its first build, 5 times: a unique
   line is appended to docs/walkthrough/listen.md and http://127.0.0.1:PORT/walkthrough/listen/
   is polled every 50 ms until the line shows; edit → visible in seconds.  The file's original
   bytes are written back in a ``finally`` (also on Ctrl-C or SIGTERM), and checked.  The
   server's "Documentation built in X seconds" lines are kept.  Target ≤ 3 s (median and max).

Run alone: ``.venv/bin/python benchmarks/site.py`` (about 2 minutes).
"""

from __future__ import annotations

import ast
import functools
import gzip
import hashlib
import http.server
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import INDEX, KERNEL, ROOT, VENV_BIN, BenchmarkError, Result, Target, log, require, run_alone, shown

NAME = "site"
MKDOCS = VENV_BIN / "mkdocs"
CONFIG = ROOT / "mkdocs.yml"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
LARGEST_PAGE = f"{KERNEL}/source/net/ipv4/tcp_input.c/"
EDITED = ROOT / "docs" / "walkthrough" / "listen.md"
EDITED_URL = "walkthrough/listen/"
MARKER = "kxbenchedit"  # prefix of the appended lines: a file that still holds one was not restored

BUILD_LIMIT_S = 60.0
WARM_LIMIT_S = 5.0
SIZE_LIMIT_MB = 250.0
FILES_LIMIT = 20_000
SEARCH_LIMIT_MB = 10.0  # our own bound: material's search loads the whole index at once
RENDER_LIMIT_S = 2.0
LIVE_LIMIT_S = 3.0
RENDER_LOADS = 3
EDITS = 5
POLL_S = 0.05
EDIT_TIMEOUT_S = 30.0
SERVE_START_TIMEOUT_S = 240.0

BUILT_RE = re.compile(r"Documentation built in ([0-9.]+) seconds")
TIMINGS_RE = re.compile(r"kernel-explorer timings \(s\): (\{.*\})")


def _env() -> dict[str, str]:
    # this checkout's package, also where the venv's editable install points at another
    return {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": str(ROOT)}


def _mermaid_cached() -> list[str]:
    sys.path.insert(0, str(ROOT))
    from explorer.config import cache_dir

    return sorted(str(p.relative_to(cache_dir())) for p in (cache_dir() / "npm").glob("mermaid-*/mermaid.min.js"))


def _mb(n: int) -> float:
    return round(n / 1e6, 2)


def _plugin_timings(text: str) -> dict[str, float] | None:
    """The plugin's own "kernel-explorer timings (s): {...}" line, if it logged one."""
    m = TIMINGS_RE.search(text)
    try:
        return ast.literal_eval(m.group(1)) if m else None
    except (ValueError, SyntaxError):
        return None


# ---------------------------------------------------------------- 1. cold build


def cold_build(site_dir: Path, cache: Path | None = None) -> dict[str, object]:
    """One `mkdocs build --strict`; with `cache`, the plugin's build cache lives there (an empty
    folder: a cold build, as after `make clean`; the same folder again: a warm one)."""
    argv = [str(MKDOCS), "build", "--strict", "-f", str(CONFIG), "-d", str(site_dir)]
    env = _env()
    if cache is not None:
        env["KEXPLORE_SITE_CACHE"] = str(cache)
    load_before = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise BenchmarkError(f"`{shown(argv)}` exited {proc.returncode}: {proc.stderr.strip()[-800:]}")
    user, system = after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime
    built = BUILT_RE.search(proc.stderr)
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("WARNING")]
    return {
        "command": "NO_MKDOCS_2_WARNING=1 " + shown(argv).replace(str(site_dir), "TMP/site"),
        "wall_s": round(wall, 2),
        "cpu_user_s": round(user, 2),
        "cpu_system_s": round(system, 2),
        "cpu_s": round(user + system, 2),
        "cpu_per_wall": round((user + system) / wall, 2) if wall else None,
        "max_rss_children_mb": round(after.ru_maxrss / 1024, 1),
        "mkdocs_reported_s": float(built.group(1)) if built else None,
        "plugin_timings_s": _plugin_timings(proc.stderr),
        "loadavg_1min_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "warnings": warnings,
        "reused_built": _reuse_line(proc.stderr),
    }


REUSE_RE = re.compile(r"kernel-explorer: built (\d+) generated pages, reused (\d+) from the cache")


def _reuse_line(text: str) -> list[int] | None:
    m = REUSE_RE.search(text)
    return [int(m.group(2)), int(m.group(1))] if m else None


def warm_builds(site_dir: Path, cache: Path) -> dict[str, object]:
    """After the cold build: the same build with nothing changed, then after one edit of the
    commentary (a line appended to EDITED, written back afterwards)."""
    same = cold_build(site_dir, cache)
    original = EDITED.read_bytes()
    try:
        EDITED.write_bytes(original + f"\n{MARKER} {uuid.uuid4().hex}\n".encode())
        edited = cold_build(site_dir, cache)
    finally:
        EDITED.write_bytes(original)
    return {"unchanged": same, "one_commentary_edit": edited, "edited": str(EDITED.relative_to(ROOT)),
            "file_restored_byte_identical": EDITED.read_bytes() == original}


# ---------------------------------------------------------------- 2. size


def site_size(site_dir: Path) -> dict[str, object]:
    parts = {
        f"{KERNEL}/source": site_dir / KERNEL / "source",
        f"{KERNEL}/symbol": site_dir / KERNEL / "symbol",
        f"{KERNEL}/_kx": site_dir / KERNEL / "_kx",
        "assets": site_dir / "assets",
    }
    sizes = {name: {"files": 0, "dirs": 0, "apparent_bytes": 0, "disk_bytes": 0} for name in [*parts, "rest"]}
    seen: set[tuple[int, int]] = set()
    for dirpath, _dirnames, filenames in os.walk(site_dir):
        here = Path(dirpath)
        part = next((name for name, p in parts.items() if here == p or p in here.parents), "rest")
        sizes[part]["disk_bytes"] += os.lstat(here).st_blocks * 512  # du counts the directories' blocks too
        sizes[part]["dirs"] += 1
        for fname in filenames:
            st = os.lstat(here / fname)
            key = (st.st_dev, st.st_ino)
            if key in seen:  # a hard link: du counts it once
                continue
            seen.add(key)
            entry = sizes[part]
            entry["files"] += 1
            entry["apparent_bytes"] += st.st_size
            entry["disk_bytes"] += st.st_blocks * 512
    total = {k: sum(s[k] for s in sizes.values()) for k in ("files", "dirs", "apparent_bytes", "disk_bytes")}
    du = None
    if shutil.which("du"):
        out = subprocess.run(["du", "-s", "-B1", str(site_dir)], capture_output=True, text=True).stdout.split()
        du = int(out[0]) if out else None
    for entry in [*sizes.values(), total]:
        entry["apparent_mb"] = _mb(entry["apparent_bytes"])
        entry["disk_mb"] = _mb(entry["disk_bytes"])
    total["disk_mib"] = round(total["disk_bytes"] / 2**20, 2)
    # the largest source page, to check the page measured in 4 is the largest
    largest = max((site_dir / KERNEL / "source").rglob("index.html"), key=lambda p: p.stat().st_size, default=None)
    return {
        "total": total,
        "du_s_bytes": du,
        "du_s_mb": _mb(du) if du is not None else None,
        "parts": sizes,
        "largest_source_page": str(largest.parent.relative_to(site_dir)) + "/" if largest else None,
        "largest_source_page_bytes": largest.stat().st_size if largest else None,
    }


# ---------------------------------------------------------------- 3. search index


def search_index(site_dir: Path) -> dict[str, object]:
    path = site_dir / "search" / "search_index.json"
    if not path.is_file():
        return {"path": "search/search_index.json", "missing": True}
    data = json.loads(path.read_text(encoding="utf-8"))
    docs = data.get("docs", [])
    source = [d.get("location", "") for d in docs if re.search(r"(^|/)source/", d.get("location", ""))]
    pages = {d.get("location", "").split("#")[0] for d in docs}
    symbol_pages = {p for p in pages if re.search(r"(^|/)symbol/", p)}
    raw = path.read_bytes()
    names = site_dir / KERNEL / "_kx" / "names"
    name_files = list(names.glob("*.json")) if names.is_dir() else []
    return {
        "path": "search/search_index.json",
        "bytes": len(raw),
        "mb": _mb(len(raw)),
        "gzip_bytes": len(gzip.compress(raw, 6)),
        "entries": len(docs),
        "pages": len(pages),
        "symbol_pages": len(symbol_pages),
        "source_entries": len(source),
        "source_examples": source[:5],
        # symbol-name search data the plugin ships apart from the full-text index (loaded on demand)
        "name_shards": len(name_files),
        "name_shards_bytes": sum(p.stat().st_size for p in name_files),
    }


# ---------------------------------------------------------------- 4. render time in Chromium


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


NAV_JS = """() => {
    const n = performance.getEntriesByType('navigation')[0];
    const fcp = performance.getEntriesByType('paint').find(p => p.name === 'first-contentful-paint');
    const res = performance.getEntriesByType('resource');
    return {
        response_end: n.responseEnd, dom_interactive: n.domInteractive,
        dom_content_loaded_end: n.domContentLoadedEventEnd, load_event_end: n.loadEventEnd,
        first_contentful_paint: fcp ? fcp.startTime : null,
        resources: res.length,
        resource_bytes: res.reduce((s, r) => s + (r.decodedBodySize || 0), 0),
        dom_elements: document.getElementsByTagName('*').length,
    };
}"""
COUNTS = ("resources", "resource_bytes", "dom_elements")  # the other NAV_JS figures are ms since navigation start
CDP_METRICS = {  # Chromium's own accounting of the main thread up to the load event (CDP Performance.getMetrics)
    "TaskDuration": "main_thread_busy_s", "RecalcStyleDuration": "style_recalc_s", "LayoutDuration": "layout_s",
    "ScriptDuration": "script_s", "Nodes": "dom_nodes",
}


def render_time(site_dir: Path, pages: list[str]) -> dict[str, dict[str, object]]:
    """Cold loads of each page (a new browser context each time), through http.server on 127.0.0.1."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise BenchmarkError(f"playwright is not installed in the venv ({exc}): run `make setup`") from exc
    if not Path(CHROMIUM).exists():
        raise BenchmarkError(f"{CHROMIUM} is missing: `make setup` installs Debian's chromium")
    for page_url in pages:
        if not (site_dir / page_url / "index.html").is_file():
            raise BenchmarkError(f"the build has no {page_url}")

    handler = functools.partial(_Quiet, directory=str(site_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    allowed = urlsplit(base).netloc
    out: dict[str, dict[str, object]] = {}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                for page_url in pages:
                    foreign: list[str] = []
                    console_errors: list[str] = []
                    loads: list[dict[str, object]] = []
                    for _ in range(RENDER_LOADS):
                        context = browser.new_context()  # its own, empty cache: a cold load

                        def guard(route, foreign: list[str] = foreign) -> None:  # type: ignore[no-untyped-def]
                            if urlsplit(route.request.url).netloc != allowed:
                                foreign.append(route.request.url)
                                route.abort()
                            else:
                                route.continue_()

                        context.route("**/*", guard)
                        page = context.new_page()
                        errors = console_errors
                        page.on("console", lambda m, errors=errors: errors.append(m.text) if m.type == "error" else None)
                        page.on("pageerror", lambda e, errors=errors: errors.append(f"page error: {e}"))
                        cdp = context.new_cdp_session(page)
                        cdp.send("Performance.enable")
                        t0 = time.perf_counter()
                        page.goto(base + page_url, wait_until="load", timeout=60_000)
                        page.wait_for_function(
                            "performance.getEntriesByType('navigation')[0].loadEventEnd > 0", timeout=60_000)
                        outside = time.perf_counter() - t0
                        metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
                        timing = page.evaluate(NAV_JS)
                        load = {k: (v if k in COUNTS or v is None else round(v / 1000, 3)) for k, v in timing.items()}
                        load["goto_wall_s"] = round(outside, 3)
                        for cdp_name, key in CDP_METRICS.items():
                            if cdp_name in metrics:
                                load[key] = int(metrics[cdp_name]) if key == "dom_nodes" else round(metrics[cdp_name], 3)
                        loads.append(load)
                        context.close()
                    html = (site_dir / page_url / "index.html").read_bytes()
                    times = [float(x["load_event_end"]) for x in loads]  # type: ignore[arg-type]
                    out[page_url] = {
                        "page": page_url,
                        "html_bytes": len(html),
                        "html_mb": _mb(len(html)),
                        "html_gzip_bytes": len(gzip.compress(html, 6)),
                        "line_anchors": len(re.findall(rb'id="L[0-9]+"', html)),
                        "chromium": browser.version,
                        "loads": loads,
                        "load_event_end_median_s": round(statistics.median(times), 3),
                        "load_event_end_max_s": round(max(times), 3),
                        "dom_content_loaded_median_s": round(statistics.median(
                            float(x["dom_content_loaded_end"]) for x in loads), 3),  # type: ignore[arg-type]
                        "requests_to_other_hosts": sorted(set(foreign)),
                        "console_errors": sorted(set(console_errors)),
                    }
            finally:
                browser.close()
    finally:
        server.shutdown()
        server.server_close()
    return out


# ---------------------------------------------------------------- 5. live editing under mkdocs serve


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Lines(threading.Thread):
    """Reads the server's output, each line stamped with time.perf_counter()."""

    def __init__(self, stream) -> None:  # type: ignore[no-untyped-def]
        super().__init__(daemon=True)
        self.stream = stream
        self.lines: list[tuple[float, str]] = []
        self.lock = threading.Lock()

    def run(self) -> None:
        for line in self.stream:
            with self.lock:
                self.lines.append((time.perf_counter(), line.rstrip("\n")))

    def since(self, t: float) -> list[tuple[float, str]]:
        with self.lock:
            return [(s, line) for s, line in self.lines if s >= t]

    def find(self, text: str, after: float = 0.0) -> tuple[float, str] | None:
        return next(((s, line) for s, line in self.since(after) if text in line), None)


def _fetch(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.read().decode("utf-8", errors="replace")
    except (urllib.error.URLError, OSError):
        return None


def _default_sigint() -> None:
    """In the server's process: SIGINT as usual, even when this run ignores it (a background job
    of a non-interactive shell, nohup), so that _stop's SIGINT lets mkdocs clean up."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _stop(proc: subprocess.Popen) -> str:  # type: ignore[type-arg]
    """Ctrl-C first (mkdocs then runs the plugins' on_shutdown and removes its temporary site)."""
    if proc.poll() is not None:
        return f"had exited ({proc.returncode})"
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=15)
        return "stopped by SIGINT"
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            proc.wait(timeout=10)
            return "stopped by SIGTERM"
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return "killed"


def live_editing() -> dict[str, object]:
    original = EDITED.read_bytes()
    digest = hashlib.sha256(original).hexdigest()
    if MARKER.encode() in original:
        raise BenchmarkError(f"{EDITED.relative_to(ROOT)} still holds a '{MARKER}' line from an interrupted run: "
                             f"`git checkout {EDITED.relative_to(ROOT)}`")
    port = _free_port()
    url = f"http://127.0.0.1:{port}/{EDITED_URL}"
    argv = [str(MKDOCS), "serve", "-f", str(CONFIG), "-a", f"127.0.0.1:{port}"]
    edits: list[dict[str, object]] = []
    startup: dict[str, object] = {}
    stopped = ""
    on_term = signal.getsignal(signal.SIGTERM) if threading.current_thread() is threading.main_thread() else None
    if on_term is not None:
        signal.signal(signal.SIGTERM, _raise_interrupt)  # restore the file on `kill` too
    proc = None
    try:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=ROOT, env=_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, bufsize=1, preexec_fn=_default_sigint)
        out = _Lines(proc.stdout)
        out.start()
        while not out.find("Serving on"):
            if proc.poll() is not None:
                time.sleep(0.2)
                tail = "\n".join(line for _, line in out.lines[-15:])
                how = (f"was killed by signal {-proc.returncode} (from outside this benchmark)" if proc.returncode < 0
                       else f"exited {proc.returncode}")
                raise BenchmarkError(f"`{shown(argv)}` {how} before serving:\n{tail}")
            if time.perf_counter() - t0 > SERVE_START_TIMEOUT_S:
                raise BenchmarkError(f"`{shown(argv)}` was not serving after {SERVE_START_TIMEOUT_S:.0f} s")
            time.sleep(0.05)
        serving = out.find("Serving on")
        first = out.find("Documentation built in")
        startup = {
            "serving_after_s": round(serving[0] - t0, 2) if serving else None,
            "first_build_reported_s": float(BUILT_RE.search(first[1]).group(1)) if first else None,  # type: ignore[union-attr]
            "first_build_plugin_timings_s": _plugin_timings("\n".join(line for _, line in out.since(t0))),
        }
        page = None
        deadline = time.perf_counter() + 30
        while page is None and time.perf_counter() < deadline:
            page = _fetch(url)
            if page is None:
                time.sleep(POLL_S)
        if page is None:
            raise BenchmarkError(f"{url} did not answer")
        try:
            for n in range(EDITS):
                token = f"{MARKER}{uuid.uuid4().hex[:12]}"
                t_edit = time.perf_counter()
                EDITED.write_bytes(original + f"\n{token}\n".encode())
                seen = None
                polls = 0
                while time.perf_counter() - t_edit < EDIT_TIMEOUT_S:
                    if proc.poll() is not None:
                        raise BenchmarkError(f"`{shown(argv)}` stopped during edit {n + 1} (returncode {proc.returncode})")
                    polls += 1
                    body = _fetch(url)
                    if body is not None and token in body:
                        seen = time.perf_counter() - t_edit
                        break
                    time.sleep(POLL_S)
                detected = out.find("Detected file changes", t_edit)
                built = out.find("Documentation built in", t_edit)
                edits.append({
                    "edit": n + 1,
                    "visible_after_s": round(seen, 3) if seen is not None else None,
                    "change_detected_after_s": round(detected[0] - t_edit, 3) if detected else None,
                    "rebuild_reported_s": float(BUILT_RE.search(built[1]).group(1)) if built else None,  # type: ignore[union-attr]
                    "rebuild_plugin_timings_s": _plugin_timings("\n".join(line for _, line in out.since(t_edit))),
                    "polls": polls,
                })
                log(f"  edit {n + 1}: visible after {f'{seen:.2f} s' if seen is not None else 'NEVER (timeout)'}"
                    f"; server: change detected after {edits[-1]['change_detected_after_s']} s,"
                    f" rebuild {edits[-1]['rebuild_reported_s']} s")
                time.sleep(1.0)
        finally:
            EDITED.write_bytes(original)
        errors = [line for _, line in out.lines if line.startswith(("ERROR", "WARNING"))]
    finally:
        try:
            EDITED.write_bytes(original)  # again, whatever happened above (even before the first edit)
        finally:
            if proc is not None:
                stopped = _stop(proc)
            if on_term is not None:
                signal.signal(signal.SIGTERM, on_term)
    restored = hashlib.sha256(EDITED.read_bytes()).hexdigest() == digest
    if not restored:
        raise BenchmarkError(f"{EDITED} differs from its original bytes after the run")
    visible = [float(e["visible_after_s"]) for e in edits if e["visible_after_s"] is not None]  # type: ignore[arg-type]
    rebuilds = [float(e["rebuild_reported_s"]) for e in edits if e["rebuild_reported_s"] is not None]  # type: ignore[arg-type]
    return {
        "command": "NO_MKDOCS_2_WARNING=1 " + shown(argv).replace(str(port), "PORT"),
        "edited": str(EDITED.relative_to(ROOT)),
        "polled": f"http://127.0.0.1:PORT/{EDITED_URL} every {POLL_S * 1000:.0f} ms",
        **startup,
        "edits": edits,
        "timeouts": len(edits) - len(visible),
        "visible_median_s": round(statistics.median(visible), 3) if visible else None,
        "visible_max_s": round(max(visible), 3) if len(visible) == len(edits) and visible else None,
        "rebuild_reported_median_s": round(statistics.median(rebuilds), 3) if rebuilds else None,
        "server_errors_and_warnings": errors,
        "server": stopped,
        "file_restored_byte_identical": restored,
    }


# ---------------------------------------------------------------- the benchmark


def run() -> Result:
    require(MKDOCS, CONFIG, INDEX)
    result = Result(NAME)
    mermaid = _mermaid_cached()
    with tempfile.TemporaryDirectory(prefix="kexplore-bench-site-") as tmp:
        site_dir = Path(tmp) / "site"
        cache = Path(tmp) / "site-cache"  # empty: a cold build, as after `make clean`
        log(f"== cold `mkdocs build --strict` into a temporary folder, with an empty build cache (mermaid cache: "
            f"{', '.join(mermaid) if mermaid else 'EMPTY, the build downloads it'})")
        build = cold_build(site_dir, cache)
        build["mermaid_cached"] = mermaid
        log(f"wall {build['wall_s']} s (mkdocs says {build['mkdocs_reported_s']} s); CPU {build['cpu_s']} s "
            f"(user {build['cpu_user_s']} + system {build['cpu_system_s']}; {build['cpu_per_wall']} CPUs busy on average); "
            f"load average before/after {build['loadavg_1min_before_after']}")
        if build["plugin_timings_s"]:
            log(f"plugin's timings (s): {build['plugin_timings_s']}")
        for w in build["warnings"]:  # type: ignore[attr-defined]
            log(f"  {w}")

        log("== the same build again (nothing changed), then after one edit of the commentary")
        warm = warm_builds(site_dir, cache)
        for what in ("unchanged", "one_commentary_edit"):
            w = warm[what]
            log(f"{what}: wall {w['wall_s']} s (mkdocs says {w['mkdocs_reported_s']} s); generated pages reused, built: "  # type: ignore[index]
                f"{w['reused_built']}; plugin's timings (s): {w['plugin_timings_s']}")  # type: ignore[index]

        log("== size of the built site")
        size = site_size(site_dir)
        total = size["total"]
        log(f"{total['files']} files, {total['dirs']} folders; disk usage {total['disk_mb']} MB = {total['disk_mib']} MiB "  # type: ignore[index]
            f"(du -s -B1: {size['du_s_mb']} MB); apparent size {total['apparent_mb']} MB")  # type: ignore[index]
        for name, part in size["parts"].items():  # type: ignore[attr-defined]
            log(f"  {name:<20} {part['files']:>7} files {part['disk_mb']:>9.2f} MB on disk {part['apparent_mb']:>9.2f} MB apparent")
        log(f"largest source page: {size['largest_source_page']} ({size['largest_source_page_bytes']} bytes)")

        log("== search index")
        search = search_index(site_dir)
        if search.get("missing"):
            log("no search/search_index.json in the build")
        else:
            log(f"{search['path']}: {search['mb']} MB ({search['gzip_bytes']} bytes gzipped), {search['entries']} entries "
                f"from {search['pages']} pages ({search['symbol_pages']} symbol pages); "
                f"source-page entries: {search['source_entries']}")
            log(f"symbol-name search data apart: {search['name_shards']} shards, {_mb(search['name_shards_bytes'])} MB")  # type: ignore[arg-type]

        pages = [LARGEST_PAGE]
        if size["largest_source_page"] and size["largest_source_page"] != LARGEST_PAGE:
            pages.append(str(size["largest_source_page"]))  # the issue names tcp_input.c; measure the real largest too
        log(f"== render time in headless Chromium ({RENDER_LOADS} cold loads each): {', '.join(pages)}")
        render = render_time(site_dir, pages)
        for page_url, r in render.items():
            log(f"{page_url}: HTML {r['html_mb']} MB ({r['html_gzip_bytes']} bytes gzipped), {r['line_anchors']} line anchors")
            for i, load in enumerate(r["loads"], 1):  # type: ignore[arg-type]
                log(f"  load {i}: response end {load['response_end']} s, first paint {load['first_contentful_paint']} s, "
                    f"DOMContentLoaded {load['dom_content_loaded_end']} s, load event end {load['load_event_end']} s; "
                    f"main thread busy {load.get('main_thread_busy_s')} s (style {load.get('style_recalc_s')}, "
                    f"layout {load.get('layout_s')}, script {load.get('script_s')}); {load.get('dom_nodes')} DOM nodes, "
                    f"{load['resources']} resources")
            log(f"  requests to other hosts: {len(r['requests_to_other_hosts'])}; console errors: {len(r['console_errors'])}")  # type: ignore[arg-type]
            for url in r["requests_to_other_hosts"]:  # type: ignore[attr-defined]
                log(f"  OTHER HOST: {url}")
            for err in r["console_errors"]:  # type: ignore[attr-defined]
                log(f"  console error: {err}")

    log(f"== live editing under `mkdocs serve` ({EDITS} edits of {EDITED.relative_to(ROOT)})")
    live = live_editing()
    log(f"first build: serving after {live['serving_after_s']} s (mkdocs says {live['first_build_reported_s']} s); "
        f"edit → visible median {live['visible_median_s']} s, max {live['visible_max_s']} s; "
        f"rebuilds reported (median) {live['rebuild_reported_median_s']} s; server {live['server']}; "
        f"{live['edited']} restored byte-identical: {live['file_restored_byte_identical']}")
    for line in live["server_errors_and_warnings"]:  # type: ignore[attr-defined]
        log(f"  server: {line}")

    result.commands = [str(build["command"]), "du -s -B1 TMP/site",
                       f"chromium (Playwright, {CHROMIUM}) → http://127.0.0.1:PORT/PAGE (python http.server), {RENDER_LOADS} cold loads",
                       str(live["command"])]
    result.figures = {"build": build, "warm": warm, "size": size, "search_index": search, "render": render,
                      "live_editing": live}
    main_page = render[LARGEST_PAGE]
    foreign = sum(len(r["requests_to_other_hosts"]) for r in render.values())  # type: ignore[arg-type]
    result.targets = [
        Target("cold mkdocs build --strict, wall", build["wall_s"], "s", BUILD_LIMIT_S,  # type: ignore[arg-type]
               note=f"CPU {build['cpu_s']} s; mermaid {'cached' if mermaid else 'downloaded'}"),
        Target("mkdocs build with nothing changed, wall", warm["unchanged"]["wall_s"], "s", WARM_LIMIT_S,  # type: ignore[index]
               note=f"reused, built: {warm['unchanged']['reused_built']}"),  # type: ignore[index]
        Target("mkdocs build after one commentary edit, wall", warm["one_commentary_edit"]["wall_s"], "s", WARM_LIMIT_S,  # type: ignore[index]
               note=f"reused, built: {warm['one_commentary_edit']['reused_built']}"),  # type: ignore[index]
        Target("site size on disk (du -s)", size["du_s_mb"] if size["du_s_mb"] is not None else total["disk_mb"],  # type: ignore[index,arg-type]
               "MB", SIZE_LIMIT_MB, note=f"{total['disk_mib']} MiB; apparent {total['apparent_mb']} MB"),  # type: ignore[index]
        Target("site files", total["files"], "", FILES_LIMIT, note=f"{total['dirs']} folders"),  # type: ignore[index]
        Target("search index size (search_index.json)", search.get("mb"), "MB", SEARCH_LIMIT_MB,  # type: ignore[arg-type]
               note=f"{search.get('gzip_bytes')} bytes gzipped, {search.get('entries')} entries"),
        Target("search index: source-page entries", search.get("source_entries"), "", 0,  # type: ignore[arg-type]
               note=f"search_index.json {search.get('mb')} MB, {search.get('entries')} entries"),
        Target("tcp_input.c render, load event (median of 3)", main_page["load_event_end_median_s"], "s", RENDER_LIMIT_S,  # type: ignore[arg-type]
               note=f"HTML {main_page['html_mb']} MB"),
    ]
    for page_url in pages[1:]:
        r = render[page_url]
        result.targets.append(Target(f"{page_url.split('/')[-2]} (largest) render, load event", r["load_event_end_median_s"],  # type: ignore[arg-type]
                                     "s", RENDER_LIMIT_S, note=f"HTML {r['html_mb']} MB"))
    result.targets += [
        Target("render: requests to other hosts", foreign, "", 0),
        Target("live edit → visible, median of 5", live["visible_median_s"], "s", LIVE_LIMIT_S),  # type: ignore[arg-type]
        Target("live edit → visible, max of 5", live["visible_max_s"], "s", LIVE_LIMIT_S,  # type: ignore[arg-type]
               note=f"{live['timeouts']} timeouts" if live["timeouts"] else ""),
    ]
    return result


def main() -> int:
    return run_alone(NAME, run)


if __name__ == "__main__":
    sys.exit(main())
