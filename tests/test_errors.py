"""Bad files reach the user as errors that name the file and say what to do (never a bare PIL / pickle error)."""

from __future__ import annotations

import urllib.error
from pathlib import Path

import pytest
import torch
import torchvision

from cnnviz_helpers import load_image, load_model
from cnnviz_helpers.datasets.shapesnet import WEIGHTS_PATH, load_shapesnet
from cnnviz_helpers.fast_style import WEIGHTS_PATH as FAST_STYLE_PATH
from cnnviz_helpers.fast_style import load_fast_style
from cnnviz_helpers.models.loading import cached_weights_path, damaged_download

WEIGHTS = torchvision.models.get_model_weights("squeezenet1_1").DEFAULT


def test_a_file_that_is_not_an_image_names_the_file_and_the_formats(tmp_path: Path) -> None:
    notes = tmp_path / "notes.jpg"
    notes.write_text("these are my lecture notes, not a photo")
    with pytest.raises(ValueError, match=r"notes\.jpg is not an image.*\.png"):
        load_image(notes)
    truncated = tmp_path / "cut.png"
    load_image("chelsea", 64).save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:200])
    with pytest.raises(ValueError, match=r"cut\.png is not an image"):
        load_image(truncated)


@pytest.fixture
def attempts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """An empty torch cache in ``tmp_path`` with the network cut off: the URLs it was asked to download."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("CNNVIZ_OFFLINE", "0")
    attempts: list[str] = []

    def no_network(url: str, dst: str, *args: object, **kwargs: object) -> None:
        attempts.append(url)
        raise urllib.error.URLError("no network in this test")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    return attempts


def _truncated_cache_file(home: Path) -> Path:
    path = cached_weights_path(WEIGHTS)
    assert path.parent == home / "hub" / "checkpoints"
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    torch.save(torchvision.models.squeezenet1_1().state_dict(), path)
    path.write_bytes(path.read_bytes()[:100_000])  # an interrupted download / copy
    return path


def test_a_missing_cache_file_is_announced_as_not_cached(attempts: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    km = load_model("squeezenet1_1", device="cpu")
    out = capsys.readouterr().out
    assert km.name == "shapesnet" and km.offline
    ours = [line for line in out.splitlines() if line.startswith("cnnviz:")]  # torch prints its "Downloading: …" too
    assert len(ours) == 1 and "not cached and could not be downloaded" in ours[0]


def test_a_truncated_cache_file_is_named_deleted_and_fetched_again(tmp_path: Path, attempts: list[str], capsys) -> None:
    path = _truncated_cache_file(tmp_path)
    assert damaged_download(path) is True
    km = load_model("squeezenet1_1", device="cpu")
    out = capsys.readouterr().out
    assert km.name == "shapesnet"  # the re-download failed (no network): the honest fallback
    assert str(path) in out and "damaged" in out and "not cached" not in out
    assert not path.exists(), "the damaged file is removed, so the next online run downloads it"
    assert attempts == [WEIGHTS.url]


def test_a_truncated_cache_file_is_replaced_when_the_network_answers(tmp_path: Path, attempts, monkeypatch, capsys) -> None:
    path = _truncated_cache_file(tmp_path)
    torch.manual_seed(0)
    good = torchvision.models.squeezenet1_1().state_dict()
    monkeypatch.setattr(torch.hub, "download_url_to_file", lambda url, dst, *a, **k: torch.save(good, dst))
    km = load_model("squeezenet1_1", device="cpu")
    out = capsys.readouterr().out
    assert km.name == "squeezenet1_1" and not km.offline
    assert str(path) in out and "downloading it again" in out
    assert all(torch.equal(a, good[k]) for k, a in km.model.state_dict().items())


def test_a_file_without_a_hash_in_its_name_says_what_to_delete(tmp_path: Path) -> None:
    odd = tmp_path / "weights.pth"
    odd.write_bytes(b"not a checkpoint")
    assert damaged_download(odd) is None
    good = tmp_path / f"x-{'0' * 8}.pth"
    good.write_bytes(b"")
    assert damaged_download(good) is True  # sha256 of nothing starts with e3b0c442, not 00000000


@pytest.mark.parametrize(
    ("loader", "shipped", "fix"),
    [(load_shapesnet, WEIGHTS_PATH, "make offline-model"), (load_fast_style, FAST_STYLE_PATH, "make fast-style-model")],
)
def test_a_damaged_shipped_weight_file_names_the_file_and_the_fix(tmp_path: Path, loader, shipped: Path, fix: str) -> None:
    copy = tmp_path / shipped.name
    copy.write_bytes(shipped.read_bytes()[: shipped.stat().st_size // 3])
    with pytest.raises(RuntimeError, match=rf"{copy.name} is damaged.*git checkout.*{fix}"):
        loader(copy)
    with pytest.raises(FileNotFoundError, match="missing"):
        loader(tmp_path / "nowhere.pt")
