"""Generate the student's notebook, ``template.ipynb``, from ``template.py``.

The template is a script in the "percent" cell format that editors such as VS
Code and Spyder understand: a line ``# %%`` starts a code cell and
``# %% [markdown]`` a markdown cell, whose lines are comments (``# text``). The
module docstring becomes the first markdown cell, with its first line as the
title. Only this much of the format is understood: no cell titles or metadata.

``python -m assignment.notebook`` rewrites the notebook; with ``--check`` it only
reports whether the committed notebook is up to date (exit status 1 if not).
"""

import argparse
import ast
import json
import re
import sys
from pathlib import Path

TEMPLATE = Path(__file__).with_name("template.py")
NOTEBOOK = TEMPLATE.with_suffix(".ipynb")

_MARKER = re.compile(r"^# %%(?P<markdown> \[markdown\])?\s*$")

METADATA = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}


def make_notebook(source):
    """Turn a percent-format script into a notebook.

    Parameters
    ----------
    source : str
        The script's text.

    Returns
    -------
    dict
        A notebook in nbformat 4.5 (cells with ids, no outputs), ready for
        ``json.dump``.
    """
    lines = source.splitlines()
    cells = []
    docstring, start = _docstring(source)
    if docstring:
        title, _, rest = docstring.partition("\n")
        cells.append(("markdown", f"# {title}\n{_markdown(rest)}"))

    kind, chunk = "code", []
    for line in [*lines[start:], "# %%"]:
        marker = _MARKER.match(line)
        if not marker:
            chunk.append(line)
            continue
        text = "\n".join(chunk).strip("\n")
        if text.strip():
            cells.append((kind, _uncomment(text) if kind == "markdown" else text))
        kind, chunk = ("markdown" if marker["markdown"] else "code"), []

    return {
        "cells": [_cell(kind, text, n) for n, (kind, text) in enumerate(cells, 1)],
        "metadata": METADATA,
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def notebook_text(source):
    """The notebook of ``source`` as the text of an ``.ipynb`` file."""
    return json.dumps(make_notebook(source), indent=1, ensure_ascii=False) + "\n"


def _docstring(source):
    """The module docstring and the index of the first line after it."""
    module = ast.parse(source)
    docstring = ast.get_docstring(module, clean=True)
    if docstring is None:
        return None, 0
    return docstring, module.body[0].end_lineno


def _markdown(text):
    """reStructuredText literals (``x``) as markdown code (`x`)."""
    return text.replace("``", "`")


def _uncomment(text):
    """Markdown from comment lines: drop each line's ``# `` (or a lone ``#``)."""
    return "\n".join(re.sub(r"^# ?", "", line) for line in text.splitlines())


def _cell(kind, text, number):
    """One notebook cell; the source is stored as lines, as Jupyter does."""
    cell = {
        "cell_type": kind,
        "id": f"cell-{number}",
        "metadata": {},
        "source": text.splitlines(keepends=True),
    }
    if kind == "code":
        cell["execution_count"] = None
        cell["outputs"] = []
    return cell


def main(argv=None):
    """Write ``template.ipynb``, or with ``--check`` compare it; return the status."""
    parser = argparse.ArgumentParser(
        prog="python -m assignment.notebook",
        description="Generate template.ipynb from template.py.",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="only check that the notebook is up to date (exit 1 if not)",
    )
    args = parser.parse_args(argv)
    expected = notebook_text(TEMPLATE.read_text(encoding="utf-8"))
    if args.check:
        current = NOTEBOOK.read_text(encoding="utf-8") if NOTEBOOK.exists() else ""
        if current != expected:
            print(f"{NOTEBOOK} is out of date: run python -m assignment.notebook")
            return 1
        print(f"{NOTEBOOK} is up to date")
        return 0
    NOTEBOOK.write_text(expected, encoding="utf-8")
    print(f"Wrote {NOTEBOOK}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
