"""In a real browser: the explorer served by Voila, and a lecture notebook run in JupyterLab.

Playwright drives Debian's Chromium (``apt-get install chromium``; never ``playwright install``),
headless, against servers on 127.0.0.1. Skipped, with the reason, when Chromium, Playwright or Voila
is missing. Screenshots go to pytest's temporary directory (the path is printed).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"

pytestmark = pytest.mark.slow


def _missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)"
    for module in ("playwright", "voila"):
        try:
            __import__(module)
        except ImportError:
            return f"{module} is not installed (pip install -e '.[dev]')"
    return None


if _missing():
    pytest.skip(_missing(), allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(args: list[str], port: int, tmp: Path) -> Iterator[str]:
    env = {**os.environ, "CNNVIZ_FAST": "1", "CNNVIZ_OFFLINE": "1", "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    env["JUPYTER_CONFIG_DIR"] = str(tmp / "config")  # no user settings
    settings = tmp / "lab-settings" / "@jupyterlab" / "docmanager-extension"
    settings.mkdir(parents=True)
    (settings / "plugin.jupyterlab-settings").write_text('{"autosave": false}')  # never write outputs into the repo
    env["JUPYTERLAB_SETTINGS_DIR"] = str(tmp / "lab-settings")
    log = open(tmp / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", *args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(600):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if proc.poll() is not None:
                pytest.fail(f"server exited: {(tmp / 'server.log').read_text()[-2000:]}")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--headless", "--disable-gpu"])
        yield b
        b.close()


def test_explorer_in_voila_runs_a_method_and_fits_a_projector(browser, tmp_path):
    port = _free_port()
    args = ["voila", "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1", "notebooks/explorer.ipynb"]
    for url in _serve(args, port, tmp_path):
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        page.goto(url, timeout=120_000)
        run = page.get_by_role("button", name="Run")
        run.wait_for(timeout=180_000)
        page.locator("select").filter(has_text="Grad-CAM").first.select_option("Grad-CAM")  # quick: answers at once
        page.get_by_text("Grad-CAM on shapesnet", exact=True).wait_for(timeout=60_000)
        run.click()  # the same setting again: from the cache
        page.get_by_text("Grad-CAM on shapesnet (cached)").wait_for(timeout=60_000)
        assert page.get_by_text("Error displaying widget").count() == 0
        result = page.locator("img").last
        box = result.bounding_box()
        shot = tmp_path / "explorer_1280x720.png"
        page.screenshot(path=str(shot))
        print(f"screenshot: {shot}")
        if os.environ.get("CNNVIZ_SCREENSHOT_DIR"):
            shutil.copy(shot, os.environ["CNNVIZ_SCREENSHOT_DIR"])
        assert box is not None and box["width"] >= 600, box  # the result is large
        assert box["x"] + box["width"] <= 1280 + 1, box  # and fits the projector's width
        side = page.get_by_role("button", name="Run").bounding_box()
        assert side is not None and side["y"] + side["height"] <= 720, side  # Run is above the fold


def test_a_lecture_notebook_runs_in_jupyterlab_without_errors(browser, tmp_path):
    port = _free_port()
    args = [
        "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1", "--IdentityProvider.token=",
        f"--ServerApp.root_dir={ROOT}", "--allow-root",
    ]  # fmt: skip
    for url in _serve(args, port, tmp_path):
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{url}/lab/tree/solutions/04_occlusion.ipynb", timeout=120_000)
        page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=120_000)
        page.get_by_text("Kernel status: Idle").first.wait_for(state="attached", timeout=120_000)  # the kernel is up
        deadline, done, prompts, started = time.time() + 600, 0, [], 0.0
        while time.time() < deadline:  # no cell waiting ([ ]) or busy ([*]), the kernel idle, twice in a row
            prompts = [p.strip() for p in page.locator(".jp-CodeCell .jp-InputArea-prompt").all_inner_texts() if p.strip()]
            if time.time() - started > 45 and all(p == "[ ]:" for p in prompts):  # not started (kernel still starting)
                page.keyboard.press("Escape")
                page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
                page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
                started = time.time()
            idle = page.get_by_text("Kernel status: Idle").count() > 0
            finished = idle and prompts and all(p[1:-2].isdigit() for p in prompts)
            done = done + 1 if finished else 0
            if done >= 2:
                break
            time.sleep(1)
        page.screenshot(path=str(tmp_path / "lab.png"), full_page=True)
        assert done >= 2, f"not every cell ran in 600 s: {prompts}"
        outputs = page.locator(".jp-OutputArea-output").all_inner_texts()
        assert not [o for o in outputs if "Traceback" in o], [o for o in outputs if "Traceback" in o][:1]
        assert page.get_by_text("Error displaying widget").count() == 0
