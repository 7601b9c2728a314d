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
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
INLINE = "module://matplotlib_inline.backend_inline"

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


def _serve(
    args: list[str], port: int, tmp: Path, path: str = "offline", backend: str = "Agg", fast: bool = True
) -> Iterator[str]:
    """Serve ``python -m args…`` offline (ShapesNet) or on the ImageNet path (``tools/imagenet_path.py``), its kernels
    in fast mode (``CNNVIZ_FAST=1``) or, with ``fast=False``, in full mode (``CNNVIZ_FAST=0``: the lecture's budgets).
    ``backend``: the kernels' matplotlib backend (:data:`INLINE` shows ``plt.show()`` figures in the notebook)."""
    env = {
        **os.environ,
        "CNNVIZ_FAST": "1" if fast else "0",
        "CNNVIZ_OFFLINE": "1",
        "PYTHONPATH": str(ROOT),
        "MPLBACKEND": backend,
    }
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
            if m.name == "network dissection" and path == "imagenet":  # concept labels exist for ShapesNet only
                text = _wait_status(page, "⚠", timeout=180)
                assert "load_model('shapesnet')" in text and "\n" not in text, text  # one line that says what to do
                continue
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
        _run_all(page)
        _wait_until_every_cell_ran(page, "04_occlusion", timeout=600)
        page.screenshot(path=str(tmp_path / "lab.png"), full_page=True)
        assert page.get_by_text("Error displaying widget").count() == 0


_ON_SCREEN = """() => {
    const cells = [...document.querySelectorAll('.jp-Notebook .jp-Cell')];
    const shown = cells.flatMap((c, i) => c.classList.contains('jp-deck-mod-onscreen') ? [i] : []);
    const boxes = shown.map(i => cells[i].getBoundingClientRect());
    const seen = sel => shown.filter(i => [...cells[i].querySelectorAll(sel)].some(e => e.offsetHeight > 0)).length;
    return {active: cells.findIndex(c => c.classList.contains('jp-mod-active')), shown: shown,
            height: Math.max(...boxes.map(b => b.bottom)) - Math.min(...boxes.map(b => b.top)),
            code: seen('.jp-CodeCell .jp-Cell-inputWrapper'),
            stderr: seen('[data-mime-type="application/vnd.jupyter.stderr"]'),
            scrolls: shown.filter(i => [...cells[i].querySelectorAll('.jp-RenderedMarkdown')].some(
                e => e.scrollHeight > e.clientHeight + 1)).length,
            bars: shown.filter(i => [...cells[i].querySelectorAll('.widget-hprogress')].some(
                e => e.offsetHeight > 0 && !e.closest('.jp-OutputArea-child').querySelector('.cnnviz-status'))).length};
}"""
#: Slide-fit checks: 04 and 06 had the tallest slides (1,729 px and 1,856 px before the sub-slide rules); 13 has
#: the longest text cells (two tables, up to 1,713 px: they scroll inside their slides).
#: ``CNNVIZ_SLIDE_NOTEBOOKS=all`` (or a comma-separated list of names) checks those instead, three at a time.
SLIDE_NOTEBOOKS = (
    tuple(p.stem for p in sorted((ROOT / "solutions").glob("[0-9]*.ipynb")))
    if os.environ.get("CNNVIZ_SLIDE_NOTEBOOKS") == "all"
    else tuple(n for n in os.environ.get("CNNVIZ_SLIDE_NOTEBOOKS", "").split(",") if n)
    or ("04_occlusion", "06_class_visualization", "13_summary")
)
#: ``CNNVIZ_SLIDE_MODE=full`` runs the slide-fit notebooks in full mode (kernels with ``CNNVIZ_FAST=0``, minutes per
#: notebook): a figure's content may grow with the mode's budget. The default, ``fast``, is the one ``make test`` runs.
SLIDE_MODE = os.environ.get("CNNVIZ_SLIDE_MODE", "fast")


def _lab_for_slides(tmp_path: Path, port: int) -> list[str]:
    """JupyterLab's arguments, and settings for measuring slides: every cell in the DOM (no windowing) and
    no "Jupyter news?" toast over the deck's remote."""
    notebook_settings = tmp_path / "lab-settings" / "@jupyterlab" / "notebook-extension"
    notebook_settings.mkdir(parents=True)
    (notebook_settings / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    news = tmp_path / "lab-settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    return [
        "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1", "--IdentityProvider.token=",
        f"--ServerApp.root_dir={ROOT}", "--allow-root", "--ServerApp.disable_check_xsrf=True",  # DELETE kernels
    ]  # fmt: skip


def _run_all(page) -> None:
    """Run > Run All Cells. "Select Kernel" dialogs (JupyterLab asks when a kernel did not start in time on a busy
    machine, once per request that needed one) are accepted one after the other: each offers the notebook's own
    kernel first. Any other dialog in the way fails with its text."""
    for _ in range(10):
        dialog = page.locator(".jp-Dialog")
        if not (dialog.count() and dialog.first.is_visible()):
            break
        text = dialog.first.inner_text()
        if not text.startswith("Select Kernel"):
            pytest.fail(f"a dialog is in the way of Run All: {text!r}")
        dialog.first.locator(".jp-mod-accept").click()
        page.wait_for_timeout(1_000)
    else:
        pytest.fail(f"Select Kernel dialogs keep coming: {page.locator('.jp-Dialog').first.inner_text()!r}")
    page.keyboard.press("Escape")
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()


def _wait_until_every_cell_ran(page, name: str, timeout: float) -> None:
    """Wait until every code cell shows an execution count and the kernel is idle, twice in a row; fail at once
    with the first traceback a cell shows.

    Run All again when the run stalls: the kernel idle, no cell busy (``[*]``), yet cells still unrun for 30 s.
    That happens when Run All is pressed while the kernel is still starting (no cell runs) or when a kernel
    restarts under load (the cells queued after the one that ran are dropped); the cells are idempotent, so a
    second Run All only repeats work.
    """
    deadline, stalled_since, reruns, done, prompts = time.time() + timeout, None, 0, 0, []
    while time.time() < deadline:
        prompts = [p.strip() for p in page.locator(".jp-CodeCell .jp-InputArea-prompt").all_inner_texts() if p.strip()]
        errors = [o for o in page.locator(".jp-OutputArea-output").all_inner_texts() if "Traceback" in o]
        assert not errors, f"{name}: a cell raised: {errors[0][:2000]}"
        idle = page.get_by_text("Kernel status: Idle").count() > 0
        ran = bool(prompts) and all(p[1:-2].isdigit() for p in prompts)
        done = done + 1 if idle and ran else 0
        if done >= 2:
            return
        if page.locator(".jp-Dialog").count():  # "Select Kernel": accept it and run all again (any other fails)
            _run_all(page)
            continue
        stalled = idle and not ran and "[*]:" not in prompts
        stalled_since = (stalled_since or time.time()) if stalled else None
        if stalled_since and time.time() - stalled_since > 30:
            reruns += 1
            print(f"{name}: the run stalled at {prompts}; Run All again ({reruns})")
            _run_all(page)
            stalled_since = None
        time.sleep(1)
    pytest.fail(f"{name}: not every cell ran in {timeout} s ({reruns} reruns): {prompts}")


def _step(page, before: int) -> bool:
    """One step of the deck's remote: down (the next cell or sub-slide) where it can go, else forward (the next
    slide). False at the end of the deck."""
    for _ in range(2):  # the remote updates its buttons shortly after a move
        for direction in ("down", "forward"):
            button = page.locator(f".jp-deck-mod-direction-{direction}")
            if "jp-mod-disabled" not in (button.get_attribute("class") or ""):
                button.click()
                try:
                    page.wait_for_function(f"() => ({_ON_SCREEN})().active !== {before}", timeout=5_000)
                    return True
                except Exception:  # noqa: BLE001 - a stale button: look again
                    break
        page.wait_for_timeout(500)
    return False


def _present(page, name: str, shots: Path, on_slide=None) -> dict:
    """Start the deck (the notebook toolbar's deck button, command ``deck:toggle``) at the first cell and step
    through every slide and sub-slide; returns ``{cells on screen: state}`` (:data:`_ON_SCREEN`), one
    screenshot per slide in ``shots``. ``on_slide(page, state)`` is called on each new slide."""
    page.locator(".jp-Notebook .jp-MarkdownCell").first.click()
    page.locator('[data-command="deck:toggle"]').first.click()
    page.locator(".jp-deck-mod-direction-forward").wait_for()
    slides: dict = {}
    for _ in range(300):
        page.wait_for_timeout(150)  # the fade-in (0.1 s)
        state = page.evaluate(_ON_SCREEN)
        shown = tuple(state["shown"])
        if shown not in slides:
            slides[shown] = state
            page.screenshot(path=str(shots / f"slides_{name}_{len(slides):02d}.png"))
            if on_slide and on_slide(page, state):
                page.screenshot(path=str(shots / f"slides_{name}_{len(slides):02d}_after.png"))
        if not _step(page, state["active"]):
            break
    page.locator(".jp-deck-mod-stop").click()
    return slides


def _occlusion_widget_answers(page, state: dict) -> bool:
    """On 04's widget slide (True; False elsewhere): the live widget (not its repr) runs, and a slider change
    gives a new result."""
    if not page.locator(".cnnviz-status").first.is_visible():
        return False
    state["widget"] = True
    assert page.get_by_text("RunPanel(").count() == 0  # the widget, not its repr
    status = page.locator(".cnnviz-status").first
    page.locator("button", has_text="Run").first.click()
    page.wait_for_function("() => document.querySelector('.cnnviz-status').innerText.includes('windows of')")
    before = status.inner_text()
    page.locator(".widget-slider .noUi-handle").first.focus()
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    page.locator("button", has_text="Run").first.click()
    page.wait_for_function(
        "b => { const t = document.querySelector('.cnnviz-status').innerText; return t.includes('windows of') && t !== b }",
        arg=before, timeout=60_000,
    )  # fmt: skip
    return True


def test_slides_show_live_widgets_and_fit_a_projector(browser, tmp_path):
    """jupyterlab-slideshow's deck at 1280x720 on the notebooks with the tallest slides (:data:`SLIDE_NOTEBOOKS`).

    Every slide and sub-slide fits the 720 px screen (text scrolls inside a slide only in 13, whose tables are
    longer than a screen) and shows no code, no stderr and no tqdm bar; 04's widget slide shows the live
    occlusion widget (not its repr), which answers a slider change. The kernels run in fast mode, or in full mode
    with ``CNNVIZ_SLIDE_MODE=full`` (:data:`SLIDE_MODE`; each notebook then has up to an hour to run).
    """
    assert SLIDE_MODE in ("fast", "full"), f"CNNVIZ_SLIDE_MODE={SLIDE_MODE!r}: use 'fast' (the default) or 'full'"
    if not (Path(sys.prefix) / "share/jupyter/labextensions/jupyterlab-slideshow").exists():
        pytest.skip("jupyterlab-slideshow is not installed (pip install -e '.[presenting]')")
    shots, port, t0 = _artifacts(tmp_path), _free_port(), time.time()
    failures = []  # every notebook is checked, then the test fails with all of them
    for url in _serve(_lab_for_slides(tmp_path, port), port, tmp_path, backend=INLINE, fast=SLIDE_MODE == "fast"):
        for group in range(0, len(SLIDE_NOTEBOOKS), 3):
            pages = {}
            for name in SLIDE_NOTEBOOKS[group : group + 3]:  # three notebooks run at once, one kernel each
                pages[name] = page = browser.new_page(viewport={"width": 1280, "height": 720})
                page.goto(f"{url}/lab/workspaces/{name}/tree/solutions/{name}.ipynb?reset", timeout=120_000)
                page.get_by_text("Kernel status: Idle").first.wait_for(state="attached", timeout=120_000)
                _run_all(page)
            for name, page in pages.items():
                try:
                    _wait_until_every_cell_ran(page, name, timeout=600 if SLIDE_MODE == "fast" else 3600)
                    _check_deck(page, name, shots, t0)
                except (AssertionError, pytest.fail.Exception) as failure:
                    failures.append(str(failure).splitlines()[0])
                page.close()
            _shut_down_kernels(url)
    assert not failures, "\n".join(failures)


def _shut_down_kernels(url: str) -> None:
    """End every session of the server (its kernels), so that the next three notebooks run on a quiet machine."""
    with urllib.request.urlopen(f"{url}/api/sessions", timeout=30) as answer:
        sessions = json.load(answer)
    for session in sessions:
        request = urllib.request.Request(f"{url}/api/sessions/{session['id']}", method="DELETE")
        urllib.request.urlopen(request, timeout=30).close()


def _check_deck(page, name: str, shots: Path, t0: float) -> None:
    """Step through ``name``'s deck (the notebook has run) and assert that every slide fits 720 px and shows
    no code, stderr or progress bar; on 04, that the occlusion widget is live."""
    ran = time.time()
    slides = _present(page, name, shots, _occlusion_widget_answers if name == "04_occlusion" else None)
    heights = {cells: round(s["height"]) for cells, s in slides.items()}
    scrolling = [cells for cells, s in slides.items() if s["scrolls"]]
    print(
        f"{name} ({SLIDE_MODE} mode): ran by {ran - t0:.0f} s, {len(slides)} slides in {time.time() - ran:.0f} s (cells: px) {heights}, text scrolls on {scrolling}"
    )
    assert len(slides) > 5, (name, heights)
    assert max(heights.values()) <= 720, f"{name}: a slide taller than the 720 px screen: {heights}, see {shots}"
    assert name == "13_summary" or not scrolling, f"{name}: text scrolls inside slides {scrolling}, see {shots}"
    for key in ("code", "stderr", "bars"):
        assert not [c for c, s in slides.items() if s[key]], f"{name}: {key} on slides {slides}"
    if name == "04_occlusion":
        assert any(s.get("widget") for s in slides.values()), f"no slide shows the occlusion widget: {heights}"
