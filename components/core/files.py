"""Reading a file a user named: regular files only, and only up to a size, so that a path such as /dev/zero, a FIFO
or a huge file gives a clear message instead of a hang or a MemoryError."""

from __future__ import annotations

import os
import stat
from pathlib import Path

NUL_IN_PATH = "a path cannot hold a NUL character; fix the path."


class UnreadableFileError(Exception):
    """Why a file cannot be read, in words that end with what to do."""


def read_regular(path: Path, limit: int, what: str) -> bytes:
    """The bytes of `path`, at most `limit` of them; `what` names the file the user meant ("a PEM file").
    FileNotFoundError is left to the caller, which knows where the path was looked up."""
    try:
        mode = os.stat(path).st_mode  # stat, not open: opening a FIFO would block
    except FileNotFoundError:
        raise
    except ValueError:  # the operating system takes no path with a NUL character
        raise UnreadableFileError(NUL_IN_PATH) from None
    except OSError as exc:
        raise UnreadableFileError(f"cannot be read ({exc.strerror}); check the path and its permissions.") from None
    if stat.S_ISDIR(mode):
        raise UnreadableFileError(f"is a directory; name {what}.")
    if not stat.S_ISREG(mode):
        raise UnreadableFileError(f"is not a regular file (a device, pipe or socket); name {what}.")
    try:
        with open(path, "rb") as file:
            data = file.read(limit + 1)
    except OSError as exc:
        raise UnreadableFileError(f"cannot be read ({exc.strerror}); check its permissions.") from None
    if len(data) > limit:
        raise UnreadableFileError(f"is larger than {limit // 1024} KiB; name {what}.")
    return data
