"""The error every model-file reader raises: its message names the file (and key or tensor) and the fix."""


class CheckpointError(Exception):
    """A checkpoint is missing, unreadable, of an unknown format or does not fit the model."""
