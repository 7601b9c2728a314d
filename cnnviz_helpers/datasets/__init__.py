"""Data the kit generates or loads: the synthetic shapes dataset and the offline ShapesNet."""
