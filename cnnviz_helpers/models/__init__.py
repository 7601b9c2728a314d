"""The networks and what every method takes (the layer above ``core`` and ``datasets``).

- :mod:`.loading`: ``load_model`` and :class:`~.loading.KitModel` (a network with its class names,
  preprocessing and notebook layers), ImageNet weights or the offline ShapesNet;
- :mod:`.targets`: what every method accepts (a model, class targets, :class:`~.targets.Unit`);
- :mod:`.examples`: the example images of a model, picked on first access;
- :mod:`.image_sets`: the labelled image set suited to a model (``image_set``, ``class_set``) (kNN, t-SNE, patches, accuracy tables).
"""
