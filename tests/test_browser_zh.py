"""The Chinese explorer (notebooks/zh/explorer.ipynb) in Voila: Chinese labels, a method runs, no tofu."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.test_browser import _free_port, _serve, browser  # noqa: F401  (browser: the fixture)

pytestmark = pytest.mark.slow


def test_the_chinese_explorer_speaks_chinese_and_runs_a_method(browser, tmp_path):  # noqa: F811
    port = _free_port()
    args = ["voila", "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1", "notebooks/zh/explorer.ipynb"]
    for url in _serve(args, port, tmp_path):
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        page.goto(url, timeout=120_000)
        run = page.get_by_role("button", name="运行")  # the Run button, translated
        run.wait_for(timeout=180_000)
        page.locator("select").filter(has_text="Grad-CAM").first.select_option("Grad-CAM")
        page.get_by_text("Grad-CAM，模型 shapesnet", exact=True).wait_for(timeout=60_000)  # the status line
        for label in ("模型与图像", "方法", "比较"):  # the tabs
            assert page.get_by_text(label, exact=True).count() >= 1, label
        assert page.get_by_text("Error displaying widget").count() == 0
        shot = tmp_path / "explorer_zh_1280x720.png"
        page.screenshot(path=str(shot))
        print(f"screenshot: {shot}")
        if os.environ.get("CNNVIZ_SCREENSHOT_DIR"):
            shutil.copy(shot, os.environ["CNNVIZ_SCREENSHOT_DIR"])
