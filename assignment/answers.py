"""The lab's four questions, answered from measured numbers.

Each ``answer_*`` function is pure: it reads the results of the experiments
(see ``experiments.run_experiments``) and returns a few sentences whose verdict
and figures come from those numbers alone. Two tables are read:

``summary``, one row per run
    ``run``, ``layers``, ``activation`` ("none" for the 1-layer net),
    ``status`` ("ok" or "diverged"), ``message``, ``train_accuracy`` (measured
    after training, in evaluation mode), ``val_accuracy``, ``test_accuracy``,
    ``seconds`` and ``n_val`` (the number of validation images).
``histories``, one row per run and epoch
    ``run``, ``layers``, ``activation``, ``epoch`` (0 is the untrained net),
    ``val_loss``, ``val_accuracy`` and ``max_abs_W1`` ... (the largest absolute
    weight of each Linear layer).

Accuracies are fractions; differences are reported in percentage points. One
seed per run gives no spread between seeds, so the noise a verdict is weighed
against is the sampling error of an accuracy measured on ``n_val`` images (two
binomial standard errors); it ignores the variation between training runs,
which is often larger.
"""

import math

import numpy as np
import pandas as pd

QUESTIONS = (
    "Does the inter-layer activation function affect performance?",
    "Do we need a 2- or a 3-layer network?",
    "Were there problems training as layers were added?",
    "How do the weights behave during training (largest absolute weight per epoch)?",
)

NEAR_CHANCE = 0.1
"""A validation accuracy below chance plus this counts as not having learned."""

FLAT = 0.005
"""A run whose validation accuracy gained less than this after its first epoch
counts as having barely improved."""

OVERFIT_RISE = 0.1
"""A final validation loss this fraction above its minimum counts as overfitting."""

UNCHANGED = 0.01
"""A weight ratio within this of 1 counts as unchanged."""


def answer_questions(summary, histories, n_classes=10):
    """Answer the four questions; a dict from each of ``QUESTIONS`` to its answer."""
    answers = (
        answer_activation(summary),
        answer_depth(summary),
        answer_training_problems(summary, histories, n_classes),
        answer_weights(histories),
    )
    return dict(zip(QUESTIONS, answers, strict=True))


def answer_activation(summary):
    """Question 1: compare activations by mean accuracy over the deeper nets.

    Parameters
    ----------
    summary : pandas.DataFrame
        One row per run (see the module docstring).

    Returns
    -------
    str
        The winning activation, its lead over the others in points, the
        spread, the best activation at each depth, and the noise level.
    """
    trained = _trained(summary)
    deep = trained[trained["layers"] >= 2]
    means = (
        deep.groupby("activation")[["val_accuracy", "test_accuracy"]]
        .mean()
        .sort_values("val_accuracy", ascending=False)
    )
    if len(means) < 2:
        return (
            "Not answered: fewer than two activations have a net with a hidden "
            "layer that trained without diverging."
        )

    val = means["val_accuracy"]
    best, second, worst = val.index[0], val.index[1], val.index[-1]
    lead = _points(val.iloc[0] - val.iloc[1])
    spread = _points(val.iloc[0] - val.iloc[-1])
    n_val = int(deep["n_val"].min())
    noise = _noise(val.mean(), n_val)
    verdict = "Yes" if spread > noise else "Not measurably"
    depths = _depths(deep)
    text = (
        f"{verdict}: {best} did best, with a mean validation accuracy of "
        f"{val.iloc[0]:.2%} over the {depths}-layer nets (test "
        f"{means['test_accuracy'].iloc[0]:.2%}), "
        f"{lead:.1f} points ahead of {second}"
    )
    if lead <= noise:
        text += " (a tie within the noise)"
    if len(val) > 2:
        text += f" and {spread:.1f} ahead of {worst}"
    text += (
        f" (spread {spread:.1f} points; differences under {noise:.1f} points are "
        f"within the noise of {n_val:,} validation images)."
    )
    test_best = means["test_accuracy"].idxmax()
    if test_best != best:
        text += (
            f" On the test set {test_best} came first "
            f"({means.loc[test_best, 'test_accuracy']:.2%})."
        )

    per_depth = [
        f"{_layers(layers)} {group.loc[group['val_accuracy'].idxmax(), 'activation']}"
        for layers, group in deep.groupby("layers")
    ]
    text += " Best at each depth: " + ", ".join(per_depth) + "."
    one = trained[trained["layers"] == 1]
    if len(one):
        text += (
            " The 1-layer net, which has no hidden activation, reached "
            f"{one['val_accuracy'].mean():.2%}."
        )
    return text + _not_counted(summary[summary["layers"] >= 2])


def answer_depth(summary):
    """Question 2: the gain of a third layer over two, per activation.

    Parameters
    ----------
    summary : pandas.DataFrame
        One row per run (see the module docstring).

    Returns
    -------
    str
        Whether three layers beat two beyond the noise, the change per
        activation, the gain of two layers over one, and the cost in time.
    """
    trained = _trained(summary)
    val = trained.pivot_table(
        index="activation", columns="layers", values="val_accuracy"
    )
    if not {2, 3} <= set(val.columns) or val[[2, 3]].dropna().empty:
        return (
            "Not answered: no activation has both a 2- and a 3-layer net that "
            "trained without diverging."
        )

    delta = (val[3] - val[2]).dropna() * 100
    test = trained.pivot_table(
        index="activation", columns="layers", values="test_accuracy"
    )
    test_delta = (test[3] - test[2]).dropna().mean() * 100
    noise = _noise(trained["val_accuracy"].mean(), trained["n_val"].min())
    mean, accuracy = delta.mean(), "validation accuracy"
    if mean > noise:
        text = f"Three layers: the third layer added {mean:.1f} points of {accuracy}"
    elif mean < -noise:
        text = f"Two layers: the third layer lost {-mean:.1f} points of {accuracy}"
    else:
        text = f"Two are enough: the third layer changed {accuracy} by {mean:+.1f}"
        text += " points"
    text += " on average"
    each = ", ".join(
        f"{activation} {value:+.1f}" for activation, value in delta.items()
    )
    text += (
        f" ({each}; test {test_delta:+.1f}), against a noise level of "
        f"{noise:.1f} points. It helped beyond the noise for "
        f"{(delta > noise).sum()} of {len(delta)} activations and hurt beyond it "
        f"for {(delta < -noise).sum()}."
    )

    one = trained.loc[trained["layers"] == 1, "val_accuracy"]
    if len(one) and 2 in val.columns:
        gain = _points(val[2].dropna().mean() - one.mean())
        text += f" Going from 1 to 2 layers changed it by {gain:+.1f} points."
    seconds = trained.groupby("layers")["seconds"].mean()
    if seconds.get(2, 0) > 0 and 3 in seconds:
        ratio = seconds[3] / seconds[2]
        text += f" A 3-layer run took {ratio:.1f}× as long as a 2-layer one."
    return text + _not_counted(summary[summary["layers"] >= 2])


def answer_training_problems(summary, histories, n_classes=10):
    """Question 3: divergence, stalls, slow starts and overfitting, by run.

    Parameters
    ----------
    summary : pandas.DataFrame
        One row per run (see the module docstring).
    histories : pandas.DataFrame
        One row per run and epoch (see the module docstring).
    n_classes : int, default 10
        Chance level is ``1 / n_classes``.

    Returns
    -------
    str
        The runs that diverged, never left chance level, started slowly or
        barely improved; the runs whose validation loss rose again; and the
        generalisation gap (train minus validation accuracy) by depth.
    """
    chance = 1 / n_classes
    problems = [
        (row.layers, f"{row.run} diverged ({row.message})")
        for row in summary[summary["status"] != "ok"].itertuples()
    ]
    overfit = []
    for row in _trained(summary).itertuples():
        history = _epochs(histories, row.run)
        if history.empty:
            continue
        problem = _learning_problem(row.run, history["val_accuracy"], chance)
        if problem:
            problems.append((row.layers, problem))
        rise = _validation_loss_rise(history)
        if rise:
            overfit.append(f"{row.run} {rise}")

    shallowest = summary["layers"].min()
    deeper = [problem for layers, problem in problems if layers > shallowest]
    shallow = [problem for layers, problem in problems if layers == shallowest]
    if deeper:
        text = "Yes: " + "; ".join(deeper) + "."
        if shallow:
            text += " Also " + "; ".join(shallow) + "."
    elif shallow:
        text = (
            "Not from adding layers: no deeper net diverged or stalled, but "
            + "; ".join(shallow)
            + "."
        )
    else:
        text = "No run diverged, stayed at chance or stopped improving after epoch 1."
    if overfit:
        text += (
            " Validation loss rose again (overfitting) in " + "; ".join(overfit) + "."
        )
    return text + " " + _generalisation_gap(_trained(summary))


def answer_weights(histories):
    """Question 4: how the largest absolute weight of each layer changed.

    Parameters
    ----------
    histories : pandas.DataFrame
        One row per run and epoch, epoch 0 holding the initial weights.

    Returns
    -------
    str
        In how many layers max |W| grew or shrank and by what factor (final
        over initial), where it grew most, and whether the growth slowed: the
        second half of the epochs against the first.
    """
    table = weight_changes(histories)
    if table.empty:
        return "Not answered: no run recorded max |W| before and after training."

    ratio = table["ratio"]
    grew, shrank = ratio > 1 + UNCHANGED, ratio < 1 - UNCHANGED
    if grew.all():
        verdict = "They grew"
    elif shrank.all():
        verdict = "They shrank"
    else:
        verdict = "Mixed"
    counts = f"rose in {grew.sum()}, fell in {shrank.sum()}"
    if (~grew & ~shrank).any():
        counts += f", stayed within {UNCHANGED:.0%} in {(~grew & ~shrank).sum()}"
    text = (
        f"{verdict}: max |W| {counts} of {len(table)} layers; final over initial "
        f"×{ratio.min():.2f} to ×{ratio.max():.2f} (median ×{ratio.median():.2f})."
    )
    top = table.loc[(ratio - 1).abs().idxmax()]
    text += (
        f" The largest change: {top['run']} W{top['layer']}, {top['initial']:.2f} "
        f"to {top['final']:.2f}."
    )

    by_position = table.groupby("position")["ratio"].mean()
    if len(by_position) > 1:
        parts = [f"{name} ×{value:.2f}" for name, value in by_position.items()]
        text += " Mean ratio by layer: " + ", ".join(parts) + "."
    by_activation = table.groupby("activation", sort=False)["ratio"].mean()
    if len(by_activation) > 1:
        parts = [f"{name} ×{value:.2f}" for name, value in by_activation.items()]
        text += " By activation: " + ", ".join(parts) + "."
    return text + " " + _growth_pace(table)


def weight_changes(histories):
    """Initial, middle and final max |W| of every layer of every run.

    Parameters
    ----------
    histories : pandas.DataFrame
        One row per run and epoch, epoch 0 holding the initial weights.

    Returns
    -------
    pandas.DataFrame
        One row per run and layer: ``run``, ``activation``, ``layer`` (1-based),
        ``position`` ("first", "hidden" or "output"; a 1-layer net's only layer
        is "output"), ``initial``, ``middle`` (at the epoch nearest half way),
        ``final`` and ``ratio`` (final / initial). Runs without an epoch 0 or
        without a trained epoch are left out.
    """
    rows = []
    for run, history in histories.groupby("run", sort=False):
        history = history.set_index("epoch").sort_index()
        columns = [c for c in _weight_columns(history) if history[c].notna().any()]
        if 0 not in history.index or history.index.max() < 1:
            continue
        last = history.index.max()
        middle = history.index[np.abs(history.index - last / 2).argmin()]
        for k, column in enumerate(columns, start=1):
            initial, final = history.loc[0, column], history.loc[last, column]
            if k == len(columns):
                position = "output"
            else:
                position = "first" if k == 1 else "hidden"
            rows.append(
                {
                    "run": run,
                    "activation": history["activation"].iloc[0],
                    "layer": k,
                    "position": position,
                    "initial": initial,
                    "middle": history.loc[middle, column],
                    "final": final,
                    "ratio": final / initial,
                }
            )
    return pd.DataFrame(
        rows,
        columns=[
            "run",
            "activation",
            "layer",
            "position",
            "initial",
            "middle",
            "final",
            "ratio",
        ],
    )


def _growth_pace(table):
    """Whether max |W| moved less in the second half of training than in the first."""
    first = table["middle"] - table["initial"]
    second = table["final"] - table["middle"]
    growing = first > 0
    if not growing.any():
        return "No layer's max |W| grew in the first half of training."
    slowed = second[growing] < first[growing]
    share = (second[growing] / first[growing]).median()
    pace = "slowed" if slowed.mean() > 0.5 else "did not slow"
    return (
        f"Growth {pace}: in {slowed.sum()} of {growing.sum()} growing layers the "
        f"second half of the epochs added less than the first (median: the second "
        f"half added {share:.0%} of the first half's growth)."
    )


def _learning_problem(run, val_accuracy, chance):
    """A phrase if a run never learned, learned late or stopped improving; else ''."""
    first, last = val_accuracy.iloc[0], val_accuracy.iloc[-1]
    if last < chance + NEAR_CHANCE:
        return f"{run} stayed near chance (validation accuracy {last:.1%})"
    if first < chance + NEAR_CHANCE:
        return (
            f"{run} was still near chance after the first epoch ({first:.1%}) "
            f"before it learned ({last:.1%} at the end)"
        )
    if len(val_accuracy) > 1 and last - first < FLAT:
        change = "got worse" if last < first else "barely improved"
        return f"{run} {change} after the first epoch ({first:.1%} to {last:.1%})"
    return ""


def _validation_loss_rise(history):
    """A phrase if the final validation loss is well above its minimum; else ''."""
    val_loss = history["val_loss"].dropna()
    if len(val_loss) < 2:
        return ""
    best_epoch = val_loss.idxmin()
    rise = val_loss.iloc[-1] / val_loss.min() - 1
    if best_epoch == val_loss.index[-1] or rise < OVERFIT_RISE:
        return ""
    return f"({rise:.0%} above its minimum at epoch {best_epoch})"


def _generalisation_gap(trained):
    """A sentence on train minus validation accuracy, by depth and at its largest."""
    if trained.empty:
        return ""
    gap = (trained["train_accuracy"] - trained["val_accuracy"]) * 100
    by_depth = gap.groupby(trained["layers"]).mean()
    parts = ", ".join(
        f"{_layers(layers)} {value:.1f}" for layers, value in by_depth.items()
    )
    text = f"Train minus validation accuracy, mean points by depth: {parts}"
    if len(by_depth) > 1:
        steps = by_depth.diff().dropna()
        if (steps > 0).all():
            trend = "grew"
        elif (steps < 0).all():
            trend = "shrank"
        else:
            trend = "did not change steadily"
        text += f" (it {trend} with depth)"
    largest = gap.idxmax()
    return text + (
        f"; largest for {trained.loc[largest, 'run']} ({gap[largest]:.1f} points)."
    )


def _trained(summary):
    """The runs that finished training."""
    return summary[summary["status"] == "ok"]


def _epochs(histories, run):
    """A run's trained epochs (1 on), indexed by epoch."""
    history = histories[(histories["run"] == run) & (histories["epoch"] >= 1)]
    return history.set_index("epoch").sort_index()


def _weight_columns(frame):
    return [c for c in frame.columns if c.startswith("max_abs_W")]


def _not_counted(summary):
    """A sentence naming the runs left out because they did not finish."""
    failed = summary[summary["status"] != "ok"]
    if failed.empty:
        return ""
    runs = ", ".join(f"{row.run} ({row.status})" for row in failed.itertuples())
    return f" Not counted: {runs}."


def _depths(frame):
    """'2- and 3' for depths 2 and 3, '2' for one depth."""
    depths = [str(d) for d in sorted(frame["layers"].unique())]
    return (
        depths[0]
        if len(depths) == 1
        else "-, ".join(depths[:-1]) + "- and " + depths[-1]
    )


def _layers(count):
    """'1 layer', '2 layers'."""
    return f"{count} layer" if count == 1 else f"{count} layers"


def _points(difference):
    """A difference of two accuracies in percentage points."""
    return float(difference) * 100


def _noise(accuracy, n):
    """Two binomial standard errors of an accuracy on ``n`` images, in points."""
    accuracy = min(max(float(accuracy), 0.0), 1.0)
    return 2 * math.sqrt(accuracy * (1 - accuracy) / n) * 100
