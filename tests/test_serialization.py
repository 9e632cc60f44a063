"""Saving and loading networks: round trips, and every way a file can be wrong."""

import io
import json
import time
import zipfile

import numpy as np
import pytest

from framework import (
    Dropout,
    Linear,
    Net,
    NetFileError,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
    load,
    save,
)


def trained_like_net(dtype=np.float32):
    net = Net(
        Linear(6, 5, rng=0), ReLU(), Dropout(0.25), Linear(5, 4, init="he", rng=1),
        Tanh(), Linear(4, 3, rng=2), Sigmoid(), Linear(3, 3, rng=3), Softmax(),
    ).astype(dtype)  # fmt: skip
    for _, value, _ in net.parameters():
        value += np.random.default_rng(value.size).standard_normal(value.shape)
    return net


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_saved_net_loads_with_the_same_layers_weights_and_outputs(tmp_path, dtype):
    net = trained_like_net(dtype)
    save(net, tmp_path / "net.npz")
    loaded = load(tmp_path / "net.npz")

    assert [type(layer) for layer in loaded.layers] == [type(la) for la in net.layers]
    assert loaded.layers[2].p == 0.25 and loaded.layers[3].init == "he"
    assert loaded.dtype == dtype and not loaded.training
    for (name, a, _), (_, b, _) in zip(
        net.parameters(), loaded.parameters(), strict=True
    ):
        assert np.array_equal(a, b), name
    x = np.random.default_rng(0).standard_normal((7, 6))
    np.testing.assert_array_equal(net.eval().forward(x), loaded.forward(x))


def test_the_file_is_plain_data_readable_without_pickle(tmp_path):
    save(trained_like_net(), tmp_path / "net.npz")
    with np.load(tmp_path / "net.npz", allow_pickle=False) as archive:
        architecture = json.loads(str(archive["architecture"]))
        assert archive["0.W"].shape == (5, 6)
    assert architecture["layers"][0] == {
        "type": "Linear",
        "config": {"n_in": 6, "n_out": 5, "init": "lecun"},
    }


def test_saving_a_layer_the_framework_lacks_fails_and_writes_nothing(tmp_path):
    class Custom:
        def forward(self, x):
            return x

        def backward(self, dy):
            return dy

    with pytest.raises(TypeError, match=r"does not define: \['Custom'\]"):
        save(Net(Linear(2, 2, rng=0), Custom()), tmp_path / "net.npz")
    assert list(tmp_path.iterdir()) == []


def test_saving_replaces_an_old_file_atomically(tmp_path):
    target = tmp_path / "net.npz"
    target.write_bytes(b"old")
    save(trained_like_net(), target)
    assert load(target) and sorted(p.name for p in tmp_path.iterdir()) == ["net.npz"]


def write_archive(path, architecture, arrays):
    """An .npz file with any architecture text and arrays, as an attacker might."""
    text = architecture if isinstance(architecture, str) else json.dumps(architecture)
    np.savez(path, architecture=np.array(text), **arrays)


def linear_entry(n_in=2, n_out=3, **extra):
    return {"type": "Linear", "config": {"n_in": n_in, "n_out": n_out, **extra}}


def architecture(*layers, version=1):
    return {"format": "framework.Net", "version": version, "layers": list(layers)}


GOOD_ARRAYS = {"0.W": np.zeros((3, 2), np.float32), "0.b": np.zeros(3, np.float32)}


W2 = {"1.W": np.zeros((1, 4), np.float32), "1.b": np.zeros(1, np.float32)}
MALFORMED = {
    "unknown-layer": (
        architecture({"type": "Conv2d", "config": {}}),
        {},
        "'Conv2d', which the framework does not have",
    ),
    "not-a-layer": (architecture({"type": "load", "config": {}}), {}, "does not have"),
    "missing-array": (
        architecture(linear_entry()),
        {"0.W": GOOD_ARRAYS["0.W"]},
        r"0\.b of shape \(3,\), the file holds nothing",
    ),
    "wrong-shape": (
        architecture(linear_entry()),
        {**GOOD_ARRAYS, "0.W": np.zeros((2, 3), np.float32)},
        r"0\.W of shape \(3, 2\).*\(2, 3\)",
    ),
    "extra-array": (
        architecture(linear_entry()),
        {**GOOD_ARRAYS, "9.W": np.zeros(1)},
        r"\['9\.W'\] belong to no layer",
    ),
    "unknown-setting": (
        architecture(linear_entry(extra=1)),
        GOOD_ARRAYS,
        "cannot be built.*extra",
    ),
    "negative-width": (
        architecture(linear_entry(n_in=-2)),
        {**GOOD_ARRAYS, "0.W": np.zeros((3, 0))},
        r"\(3, -2\)",
    ),
    "version": (architecture(linear_entry(), version=7), GOOD_ARRAYS, "version 7"),
    "format": ({"format": "keras", "layers": []}, {}, "not a saved framework network"),
    "json": ("{not json", {}, "not valid JSON"),
    "layers": (architecture("Linear"), {}, "list of objects"),
    "int-dtype": (
        architecture(linear_entry()),
        {**GOOD_ARRAYS, "0.b": np.zeros(3, np.int64)},
        "must all be float32 or all float64",
    ),
    "widths": (
        architecture(linear_entry(), linear_entry(4, 1)),
        {**GOOD_ARRAYS, **W2},
        "gives 3 outputs to a Linear layer expecting 4",
    ),
}


@pytest.mark.parametrize(
    ("text", "arrays", "message"), MALFORMED.values(), ids=MALFORMED.keys()
)
def test_malformed_files_are_one_clear_error(tmp_path, text, arrays, message):
    write_archive(tmp_path / "bad.npz", text, arrays)
    with pytest.raises(NetFileError, match=message):
        load(tmp_path / "bad.npz")


def test_a_forged_huge_width_fails_fast_without_allocating(tmp_path):
    write_archive(
        tmp_path / "huge.npz", architecture(linear_entry(10**7, 10**7)), GOOD_ARRAYS
    )
    start = time.perf_counter()
    with pytest.raises(NetFileError, match=r"shape \(10000000, 10000000\)"):
        load(tmp_path / "huge.npz")
    assert time.perf_counter() - start < 5


@pytest.mark.parametrize(
    "content",
    [b"", b"not a zip file", b"PK\x03\x04" + b"\0" * 40],
    ids=["empty", "text", "broken-zip"],
)
def test_files_that_are_not_archives_are_one_clear_error(tmp_path, content):
    (tmp_path / "bad.npz").write_bytes(content)
    with pytest.raises(NetFileError, match=r"bad\.npz"):
        load(tmp_path / "bad.npz")


def test_a_truncated_archive_is_one_clear_error(tmp_path):
    save(trained_like_net(), tmp_path / "net.npz")
    data = (tmp_path / "net.npz").read_bytes()
    (tmp_path / "net.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(NetFileError, match=r"not a readable \.npz archive"):
        load(tmp_path / "net.npz")


def test_pickled_objects_are_refused(tmp_path):
    np.savez(
        tmp_path / "pickled.npz", architecture=np.array([{"evil": 1}], dtype=object)
    )
    with pytest.raises(NetFileError):
        load(tmp_path / "pickled.npz")


def test_an_archive_that_unpacks_beyond_the_limit_is_refused(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("0.W.npy", b"\0" * 50_000_000)
    (tmp_path / "bomb.npz").write_bytes(buffer.getvalue())
    assert (tmp_path / "bomb.npz").stat().st_size < 1_000_000
    with pytest.raises(NetFileError, match="more than the 1,000,000 allowed"):
        load(tmp_path / "bomb.npz", max_bytes=1_000_000)


def test_a_subclass_posing_as_a_framework_layer_cannot_be_saved(tmp_path):
    class Linear2(Linear):
        def forward(self, x):
            return super().forward(x) * 2

    Linear2.__name__ = "Linear"
    with pytest.raises(TypeError, match="does not define"):
        save(Net(Linear2(2, 2, rng=0)), tmp_path / "net.npz")
