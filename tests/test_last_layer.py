"""Last-layer features: kNN retrieval (feature vs pixel space), PCA / t-SNE, Karpathy's grid, image folders."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from cnnviz_helpers import load_model
from cnnviz_helpers.core.images import sample_names
from cnnviz_helpers.datasets.shapes import make_shapes
from cnnviz_helpers.last_layer import (
    embed_2d,
    embedding_grid,
    extract_features,
    grid_cells,
    image_set,
    load_image_folder,
    nearest_neighbors,
    retrieval_precision,
)
from cnnviz_helpers.ui.sections import knn_widget


@pytest.fixture(scope="module")
def shapes_data(shapes_model):
    data = image_set(shapes_model, n=100, seed=5)
    return data, shapes_model.preprocess(data.images)


def test_feature_space_knn_beats_pixel_space(shapes_model, shapes_data, unchanged):
    data, x = shapes_data
    with unchanged(shapes_model.model):
        feats = extract_features(shapes_model.model, x, shapes_model.spec.penultimate, batch_size=32, progress=False)
    assert feats.shape == (100, 128)
    p_feat = retrieval_precision(nearest_neighbors(feats, k=5), data.labels)
    p_pix = retrieval_precision(nearest_neighbors(x.flatten(1), k=5), data.labels)
    assert p_feat > 0.7 and p_feat > p_pix + 0.4, (p_feat, p_pix)


def test_conv_features_are_spatial_means(shapes_model, shapes_data):
    _, x = shapes_data
    feats = extract_features(shapes_model.model, x[:6], "features.10", progress=False)
    with torch.no_grad():
        expected = shapes_model.model.features[:11](x[:6]).mean((-2, -1))
    torch.testing.assert_close(feats, expected)
    with pytest.raises(KeyError, match="classifier.3"):
        extract_features(shapes_model.model, x[:2], "classifier.33", progress=False)


@pytest.mark.parametrize("dims", [3, 10_000])  # 10,000: the distances are accumulated over blocks of dimensions
def test_nearest_neighbors_equal_brute_force(dims):
    g = torch.Generator().manual_seed(0)
    f = torch.randint(0, 4, (30, dims), generator=g).float()  # many equal distances
    nn_idx = nearest_neighbors(f, k=4)
    for q in range(30):
        others = sorted((float(torch.dist(f[q].double(), f[j].double())), j) for j in range(30) if j != q)
        assert nn_idx[q].tolist() == [j for _, j in others[:4]]
    assert nearest_neighbors(f, k=2, queries=[5, 7]).tolist() == nn_idx[[5, 7], :2].tolist()
    labels = np.arange(30) % 3
    expected = np.mean([[labels[j] == labels[q] for j in row] for q, row in enumerate(nn_idx.tolist())])
    assert retrieval_precision(nn_idx, labels) == pytest.approx(expected)
    with pytest.raises(ValueError, match="k must be"):
        nearest_neighbors(f, k=30)


def test_pca_projects_on_the_top_principal_axes():
    rng = np.random.default_rng(0)
    f = rng.normal(size=(50, 6)) * np.array([5, 3, 1, 0.5, 0.1, 0.1])
    coords = embed_2d(f, "pca")
    centred = f - f.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    ref = centred @ vt[:2].T
    np.testing.assert_allclose(np.abs(coords), np.abs(ref), atol=1e-8)


def test_tsne_keeps_clusters_apart():
    rng = np.random.default_rng(1)
    f = np.concatenate([rng.normal(0, 1, (30, 20)), rng.normal(8, 1, (30, 20))])
    coords = embed_2d(torch.tensor(f), "tsne", perplexity=10, max_iter=500)
    nearest = nearest_neighbors(torch.tensor(coords), k=1)[:, 0].numpy()
    assert ((nearest < 30) == (np.arange(60) < 30)).all()
    with pytest.raises(ValueError, match="pca"):
        embed_2d(f, "umap")


def test_grid_cells_snap_greedily_to_the_nearest_free_cell():
    coords = np.array([[0.0, 1.0], [0.01, 0.99], [1.0, 0.0], [0.5, 0.5]])
    cells = grid_cells(coords, 2, 2)
    assert len(set(cells.tolist())) == 4
    assert cells[0] == 0  # top-left point → top-left cell
    assert cells[1] in (1, 2)  # its cell is taken: the next nearest one
    assert cells[2] == 3  # bottom-right
    rng = np.random.default_rng(0)
    pts = rng.uniform(size=(20, 2))
    cells = grid_cells(pts, 5, 5)
    assert len(set(cells.tolist())) == 20
    r, c = divmod(int(cells[0]), 5)
    u = (pts - pts.min(0)) / (pts.max(0) - pts.min(0))
    centres = np.array([[(q + 0.5) / 5, 1 - (p + 0.5) / 5] for p in range(5) for q in range(5)])
    assert int(np.argmin(((centres - u[0]) ** 2).sum(1))) == r * 5 + c  # the first point gets its nearest cell
    with pytest.raises(ValueError, match="cells"):
        grid_cells(pts, 4, 4)


def test_embedding_grid_draws_each_image_in_its_cell():
    images = [np.full((10, 10, 3), v, dtype=np.uint8) for v in (0, 100, 200)]
    coords = np.array([[0.0, 1.0], [1.0, 1.0], [0.0, 0.0]])
    grid = embedding_grid(images, coords, tile=8)
    assert grid.shape == (16, 16, 3)
    assert np.allclose(grid[:8, :8], 0) and np.allclose(grid[:8, 8:], 100 / 255) and np.allclose(grid[8:, :8], 200 / 255)
    assert np.allclose(grid[8:, 8:], 1)  # free cell: white


def test_image_folder_and_imagenet_image_set(tmp_path):
    (tmp_path / "cats").mkdir()
    (tmp_path / "dogs").mkdir()
    Image.new("RGBA", (30, 20), (255, 0, 0, 128)).save(tmp_path / "cats" / "a.png")
    Image.new("L", (20, 30), 90).save(tmp_path / "dogs" / "b.jpg")
    Image.new("RGB", (25, 25), (0, 0, 255)).save(tmp_path / "c.bmp")
    (tmp_path / "notes.txt").write_text("not an image")
    data = load_image_folder(tmp_path, size=16)
    assert len(data) == 3 and all(im.mode == "RGB" and im.size == (16, 16) for im in data.images)
    assert [data.label_names[i] for i in data.labels] == [tmp_path.name, "cats", "dogs"]  # sorted paths
    with pytest.raises(FileNotFoundError):
        load_image_folder(tmp_path / "cats" / "missing")

    km = load_model("squeezenet1_1", weights="random", device="cpu")  # an ImageNet-style model (224 px)
    combined = image_set(km, views=2, folder=tmp_path)
    n_photos = len(sample_names())
    assert len(combined) == 2 * n_photos + 3
    assert combined.label_names[:n_photos] == sample_names() and "cats" in combined.label_names
    assert all(im.size == (224, 224) for im in combined.images)


def test_offline_image_set_is_the_generated_dataset(shapes_model):
    data = image_set(shapes_model, n=12, seed=3)
    images, labels, _ = make_shapes(12, seed=3)
    assert np.array_equal(data.labels, labels) and np.array_equal(np.asarray(data.images[5]), images[5])
    assert data.label_names == shapes_model.class_names


def test_knn_widget_builds(shapes_data):
    data, x = shapes_data
    box = knn_widget(data.images[:10], {"pixels": nearest_neighbors(x[:10].flatten(1), k=3)})
    query, rows = box.children
    query.value = 4
    assert len(rows.children) == 2 and len(rows.children[1].children) == 4
