"""Data the kit generates, ships or downloads: the synthetic shapes and the offline ShapesNet, Imagenette,
the labelled image sets built from them (``image_sets``) and optional downloaded assets (paintings)."""
