"""The student's template: the submission contract's names, each task unfinished
with a clear message, and the notebook in step with the script."""

import ast
import inspect
import json
import re
from pathlib import Path

import pytest

import framework
from assignment import notebook

TEMPLATE = Path(notebook.__file__).with_name("template.py")
NOTEBOOK = TEMPLATE.with_suffix(".ipynb")
TASKS = ("one_layer", "two_layer", "three_layer")


def notebook_code(path):
    """A notebook's code cells in order, as the submission contract reads them:
    lines starting with ``!`` or ``%`` left out."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    lines = [
        line
        for cell in cells
        if cell["cell_type"] == "code"
        for line in "".join(cell["source"]).splitlines()
        if not line.lstrip().startswith(("!", "%"))
    ]
    return "\n".join(lines) + "\n"


def run_source(source, filename):
    namespace = {"__name__": "submission"}
    exec(compile(source, filename, "exec"), namespace)
    return namespace


@pytest.fixture(params=["template.py", "template.ipynb"])
def submission(request):
    """The names the template defines, run as a script or as notebook cells."""
    if request.param == "template.py":
        return run_source(TEMPLATE.read_text(encoding="utf-8"), str(TEMPLATE))
    return run_source(notebook_code(NOTEBOOK), str(NOTEBOOK))


def test_defines_exactly_the_contract_names(submission):
    own = {
        name
        for name, value in submission.items()
        if not name.startswith("_") and getattr(framework, name, None) is not value
    }
    assert own == set(TASKS)
    for task in TASKS:
        assert list(inspect.signature(submission[task]).parameters) == [
            "n_inputs",
            "n_classes",
        ]


@pytest.mark.parametrize("task", TASKS)
def test_each_task_raises_not_implemented_naming_itself(submission, task):
    with pytest.raises(NotImplementedError, match="not implemented yet") as raised:
        submission[task](784, 10)
    assert str(raised.value).startswith(f"{task} is not implemented yet: build a Net")


def test_hyperparameters_example_is_commented_out_and_valid():
    """The example must be off as handed out, and work once uncommented."""
    text = TEMPLATE.read_text(encoding="utf-8")
    block = re.search(r"^# HYPERPARAMETERS = \{\n(?:#.*\n)*?# \}$", text, re.M)
    assert block, "the template lost its commented-out HYPERPARAMETERS example"
    uncommented = re.sub(r"^# ?", "", block.group(0), flags=re.M)
    settings = run_source(uncommented, "example")["HYPERPARAMETERS"]

    net = framework.Net(framework.Linear(4, 3, rng=0), framework.Softmax())
    x = [[0.0, 1.0, 0.0, 1.0], [1.0, 0.0, 1.0, 0.0]] * 8
    history = framework.fit(net, x, [0, 1] * 8, progress=False, rng=0, **settings)
    assert len(history) == settings["epochs"]


def test_notebook_code_cells_are_the_template_code():
    """Compared as syntax trees: comments and the docstring aside, the same code."""
    script = ast.parse(TEMPLATE.read_text(encoding="utf-8"))
    assert isinstance(script.body[0].value, ast.Constant)  # the module docstring
    script.body = script.body[1:]
    cells = ast.parse(notebook_code(NOTEBOOK))
    assert ast.dump(cells) == ast.dump(script)


def test_committed_notebook_is_the_generated_one():
    expected = notebook.notebook_text(TEMPLATE.read_text(encoding="utf-8"))
    assert NOTEBOOK.read_text(encoding="utf-8") == expected, (
        "template.ipynb is out of date: run python -m assignment.notebook"
    )
    assert notebook.main(["--check"]) == 0


def test_notebook_is_nbformat_4():
    """The fields nbformat 4.5 requires, checked by hand (nbformat is no dependency)."""
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    assert (nb["nbformat"], nb["nbformat_minor"]) == (4, 5)
    assert nb["metadata"]["kernelspec"]["language"] == "python"
    ids = [cell["id"] for cell in nb["cells"]]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", i) for i in ids)
    for cell in nb["cells"]:
        required = {"cell_type", "id", "metadata", "source"}
        if cell["cell_type"] == "code":
            required |= {"execution_count", "outputs"}
        assert set(cell) == required
        assert all(isinstance(line, str) for line in cell["source"])
    markdown = "".join(
        "".join(cell["source"]) for cell in nb["cells"] if cell["cell_type"] != "code"
    )
    assert markdown.startswith("# Lab: multilayer perceptrons")
    assert "2- or a 3-layer network?" in markdown


def test_make_notebook_splits_percent_cells():
    source = (
        '"""Title line.\n\nSome ``code`` in prose.\n"""\n\n'
        "# %%\nimport math\n\n"
        "# %% [markdown]\n# ## Heading\n#\n# Text.\n\n"
        "# %%\ndef f():\n    return math.pi\n"
    )
    cells = notebook.make_notebook(source)["cells"]
    assert [(c["cell_type"], "".join(c["source"])) for c in cells] == [
        ("markdown", "# Title line.\n\nSome `code` in prose."),
        ("code", "import math"),
        ("markdown", "## Heading\n\nText."),
        ("code", "def f():\n    return math.pi"),
    ]
    assert cells[3]["source"] == ["def f():\n", "    return math.pi"]
