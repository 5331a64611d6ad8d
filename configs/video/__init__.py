"""video-eval's own config search path: the ``benchmark`` group (one file per benchmark)."""
