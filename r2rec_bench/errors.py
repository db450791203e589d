"""The one exception type that the CLI turns into a one-line message and exit code 2."""


class UserError(Exception):
    """Bad input from the user: the message names the file, line or field and the fix."""


def at(path, line: int | None = None) -> str:
    """Format a location for an error message: ``file`` or ``file:line``."""
    return f"{path}:{line}" if line is not None else str(path)


def one_line(exc: BaseException, *, with_type: bool = False) -> str:
    """The most informative line of a library exception, for a one-line ``UserError``.

    torch's ``load_state_dict`` puts the useful part ("size mismatch ...") after its first
    line, so a line that names a mismatch wins; otherwise the first non-empty line.
    """
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = next((line for line in lines if "mismatch" in line), lines[0] if lines else "")
    text = text[:300].rstrip(".")
    if with_type or not text:
        return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text
