"""Finding submissions on disk and reading their code.

A submission is one Python file or one Jupyter notebook. The grader's command
line takes files, and folders of submissions: a folder's own .py and .ipynb
files are one submission each, and each sub-folder is one submission holding
exactly one such file. A notebook's code is its code cells in order, with
shell (``!``) and magic (``%``) lines dropped. Nothing here runs the code.
"""

import dataclasses
import hashlib
import json
from pathlib import Path

#: Larger files are refused: a lab submission is a few kilobytes of code.
MAX_SUBMISSION_BYTES = 2_000_000
SUFFIXES = (".py", ".ipynb")


class SubmissionError(ValueError):
    """A submission whose code cannot be read; the message is for the student."""


@dataclasses.dataclass(frozen=True)
class Submission:
    """Where a submission lives; ``path`` is None when none could be picked."""

    name: str
    path: Path | None
    problem: str | None = None

    def read(self):
        """The submission's Python code and the SHA-256 of its file's bytes.

        Raises
        ------
        SubmissionError
            When the file is missing, too large, or not a usable notebook.
        """
        if self.problem:
            raise SubmissionError(self.problem)
        try:
            size = self.path.stat().st_size
            if size > MAX_SUBMISSION_BYTES:
                raise SubmissionError(
                    f"{self.path.name} is {size:,} bytes; submissions are limited to "
                    f"{MAX_SUBMISSION_BYTES:,}. Submit code only, without data or "
                    "saved outputs."
                )
            raw = self.path.read_bytes()
        except OSError as error:
            raise SubmissionError(
                f"Cannot read {self.path}: {error.strerror}."
            ) from None
        digest = hashlib.sha256(raw).hexdigest()
        if self.path.suffix == ".ipynb":
            return notebook_code(raw, self.path.name), digest
        return _decode(raw, self.path.name), digest


def find_submissions(paths):
    """The submissions named by command-line paths, in a stable order.

    Raises
    ------
    FileNotFoundError
        When a path does not exist (a usage error, not a student's).
    """
    found = []
    for path in map(Path, paths):
        if not path.exists():
            raise FileNotFoundError(f"No such file or folder: {path}")
        if path.is_file():
            found.append(Submission(path.stem, path))
            continue
        files = sorted(p for p in path.iterdir() if _is_code(p))
        folders = sorted(p for p in path.iterdir() if p.is_dir() and _visible(p))
        found += [Submission(p.stem, p) for p in files]
        found += [_from_folder(folder) for folder in folders]
    return found


def _from_folder(folder):
    candidates = sorted(p for p in folder.rglob("*") if _is_code(p))
    if len(candidates) == 1:
        return Submission(folder.name, candidates[0])
    names = ", ".join(str(p.relative_to(folder)) for p in candidates) or "none"
    problem = (
        f"The folder {folder.name} must hold exactly one .py or .ipynb file, "
        f"found: {names}."
    )
    return Submission(folder.name, None, problem)


def _visible(path):
    return not path.name.startswith((".", "__"))


def _is_code(path):
    return path.is_file() and path.suffix in SUFFIXES and _visible(path)


def _decode(raw, name):
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise SubmissionError(
            f"{name} is not UTF-8 text (byte {error.start}); save it as UTF-8."
        ) from None


def notebook_code(raw, name="notebook"):
    """The code of a notebook: its code cells joined, ``!`` and ``%`` lines dropped.

    Parameters
    ----------
    raw : bytes
        The .ipynb file's content (nbformat 4 JSON).
    name : str
        The file's name, for error messages.
    """
    try:
        document = json.loads(_decode(raw, name))
    except json.JSONDecodeError as error:
        raise SubmissionError(
            f"{name} is not a valid notebook (JSON error at line {error.lineno}); "
            "open and save it again in Jupyter."
        ) from None
    cells = document.get("cells") if isinstance(document, dict) else None
    if not isinstance(cells, list):
        raise SubmissionError(f"{name} is not a Jupyter notebook: it has no cells.")
    blocks = []
    for index, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(s, str) for s in source):
            source = "".join(source)
        if not isinstance(source, str):
            raise SubmissionError(f"{name}: cell {index} has a malformed source.")
        lines = [line for line in source.splitlines() if not _is_magic(line)]
        blocks.append(f"# cell {index}\n" + "\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def _is_magic(line):
    return line.lstrip().startswith(("!", "%"))
