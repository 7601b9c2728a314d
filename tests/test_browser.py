"""In a real browser: the explorer served by Voila, and a lecture notebook run in JupyterLab.

Playwright drives Debian's Chromium (``apt-get install chromium``; never ``playwright install``),
headless, against servers on 127.0.0.1. Skipped, with the reason, when Chromium, Playwright or Voila
is missing. The explorer runs every registry method at 1280×720 offline (ShapesNet) and on the
ImageNet path (squeezenet1_1 with random weights, as ``tools/imagenet_path.py``), about 2–3 min
each. Screenshots of each method go to ``$CNNVIZ_ARTIFACTS/<path>/`` or pytest's temporary
directory (the path is printed).
"""

from __future__ import annotations

import base64
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

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


def _serve(args: list[str], port: int, tmp: Path, path: str = "offline") -> Iterator[str]:
    """Serve ``python -m args…`` in fast mode: offline (ShapesNet) or on the ImageNet path (``tools/imagenet_path.py``)."""
    env = {**os.environ, "CNNVIZ_FAST": "1", "CNNVIZ_OFFLINE": "1", "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    if path == "imagenet":  # random squeezenet1_1 weights under torchvision's real file name
        sys.path.insert(0, str(ROOT / "tools"))
        from imagenet_path import fill_cache

        home = Path(tempfile.gettempdir()) / "cnnviz-imagenet-path"
        fill_cache(home, ["squeezenet1_1"])
        env.update(TORCH_HOME=str(home), CNNVIZ_OFFLINE="0")
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


def _artifacts(tmp_path: Path) -> Path:
    """Where screenshots go: ``$CNNVIZ_ARTIFACTS`` (kept for a person to look at) or pytest's tmp dir."""
    folder = Path(os.environ.get("CNNVIZ_ARTIFACTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    print(f"screenshots: {folder}")
    return folder


def _status(page) -> str:
    return page.locator(".cnnviz-status").first.inner_text()


def _wait_status(page, prefix: str, timeout: float = 90) -> str:
    deadline = time.time() + timeout
    while time.time() < deadline:
        text = _status(page)
        if text.startswith(prefix) or (text.startswith("⚠") and "not classified as the target" not in text):
            return text
        time.sleep(0.1)
    pytest.fail(f"no {prefix!r} in the status line after {timeout} s: {_status(page)!r}")


#: Reads the PNG the page shows (a blob: URL) back as a data: URL, so its text (title boxes) can be checked.
_PNG_JS = """async img => { const blob = await (await fetch(img.src)).blob();
  return await new Promise(done => { const r = new FileReader(); r.onload = () => done(r.result); r.readAsDataURL(blob); }); }"""


def _result_fits(page, name: str, width: int, height: int) -> None:
    """The result image is inside the viewport; its titles render at ≥ 20 px, inside it, and nothing overlaps.

    The title and panel boxes and the font size come from the shown PNG's text (:func:`.plotting.panels_png` writes
    them), scaled by the size the browser draws the image at.
    """
    from cnnviz_helpers.ui.plotting import PANELS_KEY, TITLE_PX_KEY, TITLES_KEY

    result = page.locator("img.cnnviz-result").first
    box = result.bounding_box()
    assert box is not None and box["x"] >= 0 and box["y"] >= 0, (name, box)
    assert box["x"] + box["width"] <= width + 1 and box["y"] + box["height"] <= height + 1, (name, box)
    png = Image.open(io.BytesIO(base64.b64decode(result.evaluate(_PNG_JS).split(",", 1)[1])))
    scale = box["width"] / png.width
    if TITLES_KEY not in png.text:  # a synthesis's live preview (a run still going): no titles yet
        pytest.fail(f"{name}: the result shown has no titles (a preview, not the result)")
    assert float(png.text[TITLE_PX_KEY]) * scale >= 20, (name, png.text[TITLE_PX_KEY], scale)
    titles = [[v * scale for v in b] for b in json.loads(png.text[TITLES_KEY])]
    assert titles and all(0 <= t[0] and t[2] <= box["width"] + 1 and t[1] >= 0 for t in titles), (name, titles)
    for a, b in zip(titles, titles[1:]):  # left to right, each title clear of the next
        assert a[2] <= b[0] or a[3] <= b[1] or b[3] <= a[1], (name, a, b)
    panels = [[v * scale for v in b] for b in json.loads(png.text[PANELS_KEY])]  # title, image, colorbar numbers
    for a, b in zip(panels, panels[1:]):
        assert a[2] <= b[0], (name, a, b)


@pytest.mark.parametrize("path", ["offline", "imagenet"])
def test_explorer_in_voila_runs_every_method_and_fits_a_projector(browser, tmp_path, path):
    """Every registry method, offline (ShapesNet) and on the ImageNet path (squeezenet1_1, random weights)."""
    from cnnviz_helpers.methods import METHODS

    shots = _artifacts(tmp_path) / path
    shots.mkdir(exist_ok=True)
    model = {"offline": "shapesnet", "imagenet": "squeezenet1_1"}[path]
    port = _free_port()
    args = ["voila", "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1", "notebooks/explorer.ipynb"]
    for url in _serve(args, port, tmp_path, path):
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        page.goto(url, timeout=120_000)
        run = page.get_by_role("button", name="Run")
        run.wait_for(timeout=180_000)
        assert page.locator("img.cnnviz-result").first.is_hidden()  # no empty grey box before the first result
        assert page.get_by_text("Driving it from code").first.is_hidden()  # the instructions stay collapsed
        method = page.locator("select").filter(has_text="Grad-CAM").first
        method.select_option("saliency")
        run.dblclick()  # a double-click on Run is one run, never Run then Stop
        _wait_status(page, f"saliency on {model}", timeout=180)
        for m in METHODS:
            method.select_option(m.name)
            page.wait_for_timeout(300)  # a quick method starts by itself (Run is disabled meanwhile)
            run.click()  # waits until Run is enabled; a quick one's setting then comes from the cache
            text = _wait_status(page, f"{m.name} on {model}", timeout=180)
            assert not text.startswith("⚠"), (m.name, text)
            page.mouse.move(0, 0)
            page.screenshot(path=str(shots / f"explorer_{m.name.replace(' ', '_')}.png"))
            _result_fits(page, m.name, 1280, 720)
        method.select_option("class visualization")  # Stop during a synthesis: a titled partial result
        readout = page.locator(".widget-readout:visible").first  # its steps (the first slider)
        for _attempt in range(5):  # a busy CPU can drop the first edit: retype until the slider shows 500
            readout.click()
            page.keyboard.press("Control+A")
            page.keyboard.type("500")
            page.keyboard.press("Enter")
            time.sleep(0.5)
            if readout.inner_text().strip() == "500":
                break
        assert readout.inner_text().strip() == "500", readout.inner_text()
        run.click()
        _wait_status(page, "step: ")
        page.get_by_role("button", name="Stop").click()
        text = _wait_status(page, "class visualization: stopped at step")
        assert text.endswith("of 500 (Run starts again)"), text
        wraps = page.locator(".cnnviz-status").first.evaluate("e => getComputedStyle(e).whiteSpace")
        assert wraps == "normal", wraps  # the status line wraps instead of cutting a message off
        page.screenshot(path=str(shots / "explorer_stopped.png"))
        _result_fits(page, "stopped", 1280, 720)
        method.select_option("saliency")  # compare mode: A and B side by side, short titles
        page.locator(".lm-TabBar-tabLabel", has_text="compare").click()
        page.get_by_role("checkbox", name="compare side by side").check()
        text = _wait_status(page, "A: saliency")
        assert " ".join(text.split()).startswith("A: saliency | B: Grad-CAM @ "), text  # saliency of the class: no layer
        page.screenshot(path=str(shots / "explorer_compare.png"))
        _result_fits(page, "compare", 1280, 720)
        assert page.get_by_text("Error displaying widget").count() == 0
        side = run.bounding_box()
        assert side is not None and side["y"] + side["height"] <= 720, side  # Run is above the fold
        page.set_viewport_size({"width": 1920, "height": 1080})
        page.wait_for_timeout(300)
        result = page.locator("img.cnnviz-result").first.bounding_box()
        assert result is not None and result["y"] + result["height"] <= 1080, result
        page.screenshot(path=str(shots / "explorer_1920x1080.png"))


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
