"""Where the framework's random numbers come from.

Every random choice (initial weights, shuffling, dropout masks) takes an ``rng``
argument: an int seed or a ``numpy.random.Generator``. When it is left out, the
choice draws from one module-level generator, which ``set_seed`` resets; so a
script that calls ``set_seed(0)`` first builds the same network bit for bit on
every run, even if its layers are created without seeds, as in the lesson.
"""

import numpy as np

_default = np.random.default_rng()


def set_seed(seed):
    """Reset the default generator, like ``torch.manual_seed``."""
    global _default
    _default = to_rng(seed)


def default_rng():
    """The generator used when a caller passes no ``rng``."""
    return _default


def to_rng(rng):
    """Turn an int seed or a Generator into a Generator.

    A Generator is returned as is, so that the caller's stream advances.
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, bool) or not isinstance(rng, int | np.integer):
        raise TypeError(
            f"rng must be an int seed or a numpy Generator, got {type(rng).__name__}."
        )
    if rng < 0:
        raise ValueError(f"rng seed must be >= 0, got {rng}.")
    return np.random.default_rng(int(rng))
