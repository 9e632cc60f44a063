"""Plots of the experiments' histories, drawn only when matplotlib is installed.

matplotlib is an optional extra of the project (``pip install .[plots]``): it is
imported when a plot is asked for, and without it the plots are skipped with
one log line. Figures are drawn with ``matplotlib.figure.Figure`` directly, so
no GUI backend and no pyplot state are involved.
"""

import logging
from pathlib import Path

logger = logging.getLogger(__name__)


def save_plots(histories, out):
    """Save ``learning_curves.png`` and ``weights.png`` into ``out``.

    Parameters
    ----------
    histories : pandas.DataFrame
        One row per run and epoch, as ``experiments.run_experiments`` returns.
    out : str or pathlib.Path
        An existing folder.

    Returns
    -------
    list of pathlib.Path
        The files written; empty when matplotlib is missing.
    """
    try:
        import matplotlib.figure
    except ImportError:
        logger.info("matplotlib is not installed: skipping the plots")
        return []

    out = Path(out)
    paths = []
    for name, draw in (("learning_curves", _draw_accuracy), ("weights", _draw_weights)):
        figure = _grid_figure(matplotlib.figure.Figure, histories, draw)
        path = out / f"{name}.png"
        figure.savefig(path, dpi=100)
        paths.append(path)
    return paths


def _grid_figure(figure_class, histories, draw):
    """One panel per run: a row per depth, a column per hidden activation."""
    runs = histories.drop_duplicates("run")
    depths = sorted(runs["layers"].unique())
    activations = [a for a in runs["activation"].unique() if a != "none"] or ["none"]
    figure = figure_class(
        figsize=(4 * len(activations), 3 * len(depths)), layout="constrained"
    )
    axes = figure.subplots(len(depths), len(activations), squeeze=False)
    used = set()
    for run in runs.itertuples():
        row = depths.index(run.layers)
        column = activations.index(run.activation) if run.activation != "none" else 0
        axis = axes[row][column]
        draw(axis, histories[histories["run"] == run.run].sort_values("epoch"))
        axis.set_title(run.run)
        used.add((row, column))
    for row, axes_row in enumerate(axes):
        for column, axis in enumerate(axes_row):
            if (row, column) not in used:
                axis.set_visible(False)
    return figure


def _draw_accuracy(axis, history):
    """Training accuracy (running mean over each epoch) and validation accuracy."""
    trained = history[history["epoch"] >= 1]
    axis.plot(trained["epoch"], trained["accuracy"], label="train (running)")
    axis.plot(history["epoch"], history["val_accuracy"], label="validation")
    axis.set_xlabel("epoch")
    axis.set_ylabel("accuracy")
    axis.grid(alpha=0.3)
    axis.legend(loc="lower right", fontsize="small")


def _draw_weights(axis, history):
    """Largest absolute weight of each Linear layer, from the untrained net on."""
    columns = [c for c in history.columns if c.startswith("max_abs_W")]
    for column in columns:
        if history[column].notna().any():
            axis.plot(history["epoch"], history[column], label=column[-2:])
    axis.set_xlabel("epoch")
    axis.set_ylabel("max |W|")
    axis.grid(alpha=0.3)
    axis.legend(loc="upper left", fontsize="small")
