"""The kit's user interface: plots, widget building blocks, the per-section widgets (and the explorer).

Nothing outside this package imports it: methods return tensors and arrays, the UI draws them.
"""
