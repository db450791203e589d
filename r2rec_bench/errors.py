"""The one exception type that the CLI turns into a one-line message and exit code 2."""


class UserError(Exception):
    """Bad input from the user: the message names the file, line or field and the fix."""


def at(path, line: int | None = None) -> str:
    """Format a location for an error message: ``file`` or ``file:line``."""
    return f"{path}:{line}" if line is not None else str(path)
