"""The book builds with warnings as errors, and its pages work in a real (headless) browser.

Screenshots go to artifacts/screenshots/ (kept out of git).
"""
from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from rnnkit import notebook

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
SLUGS = sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir())
SHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site():
    """Build the book (`make book`'s steps) and serve it on a loopback port."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    subprocess.run([sys.executable, "-m", "rnnkit.bookprep"], cwd=ROOT, check=True, env=env)
    proc = subprocess.run([str(Path(sys.executable).parent / "jupyter-book"), "build", ".",
                           "--warningiserror", "--keep-going"],
                          cwd=ROOT, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, "book build failed:\n" + (proc.stdout + proc.stderr)[-5000:]
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `make chromium` installs Debian's package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


def _open(browser, url, name):
    """Load a page; return it with the console errors and off-site requests it caused."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems = []
    page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.on("request", lambda r: r.url.startswith(("http://127.0.0.1", "data:", "blob:"))
            or problems.append(f"off-site request: {r.url}"))
    page.goto(url, wait_until="networkidle")
    page.wait_for_function("() => !document.querySelector('mjx-container') || "
                           "document.querySelector('mjx-container svg')", timeout=20000)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)
    return page, problems


def test_landing_page_loads_cleanly(site, browser):
    """The landing page links every chapter and loads without console errors."""
    page, problems = _open(browser, f"{site}/intro.html", "intro")
    assert not problems, problems
    for slug in SLUGS:
        assert page.locator(f"a[href*='{slug}']").count() > 0, slug
    page.close()


@pytest.mark.parametrize("slug", SLUGS)
def test_chapter_page(site, browser, slug):
    """Math is rendered, tabs switch together, solutions are folded, hidden tests are absent."""
    page, problems = _open(browser, f"{site}/book/{slug}.html", slug)
    assert not problems, problems

    # Math: MathJax (served locally) turned every formula into SVG.
    assert page.locator("mjx-container svg").count() > 0, "no rendered math"
    assert "\\frac" not in page.inner_text("main"), "raw LaTeX left on the page"

    # Solutions: folded behind "Show solution", code hidden until clicked.
    toggles = page.locator("details.hide summary", has_text="Show solution")
    assert toggles.count() >= 4, "expected every exercise's solution behind a toggle"
    first = page.locator("details.hide").first
    assert not first.evaluate("d => d.open")
    toggles.first.click()
    assert first.evaluate("d => d.open")

    # Framework tabs: choosing PyTorch in one tab set switches all of them.
    sets = page.locator(".sd-tab-set")
    assert sets.count() >= 1, "no framework tabs on the page"
    sets.first.locator("label", has_text="PyTorch").click()
    chosen = page.eval_on_selector_all(
        ".sd-tab-set", "sets => sets.map(s => s.querySelector('input:checked + label').innerText)")
    assert chosen and all(c.strip() == "PyTorch" for c in chosen), chosen
    page.screenshot(path=str(SHOTS / f"{slug}-pytorch-tab.png"))

    # Hidden tests: no line that only the hidden blocks contain reaches the page.
    source = notebook.read(ROOT / "solutions" / slug / f"{slug}.ipynb")
    shown = "\n".join(notebook.strip_hidden_tests(c.source) for c in source.cells)
    hidden = [ln.strip() for c in source.cells if notebook.is_test_cell(c)
              for block in re.findall(r"BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS", c.source, re.S)
              for ln in block.splitlines() if len(ln.strip()) > 12 and ln.strip() not in shown]
    html = page.content()
    text = page.inner_text("body")
    assert "HIDDEN TESTS" not in html
    leaked = [ln for ln in hidden if ln in text]
    assert hidden and not leaked, leaked or "no hidden tests found to check"
    page.close()
