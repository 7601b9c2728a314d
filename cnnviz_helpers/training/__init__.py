"""Scripts that train the shipped networks and download weights and assets (``python -m ...``)."""
