"""User-facing errors: the CLI prints their message (which names the file, field or flag and the fix) and exits."""


class UsageError(Exception):
    """Bad input from the user: a config value, a flag, a file. The message says what and how to fix it."""
