"""Bad data on the command line: exit status 2, one ``error:`` line naming the input, no traceback.

Each case is an input the data layer must refuse before any training: a
decompression bomb and a damaged image in an image folder, a ``--cache-dir``
that is a file, more patches than memory holds, a crafted assignment
pickle, a truncated CIFAR-10 batch.  Every case goes through
:func:`nnlite.cli.main` in this process (an exception that escaped it would
fail the test); the slowest-to-start ones also run as ``python -m nnlite``
subprocesses, at the same time, to check the real exit status and stderr.
The API-level tests are in tests/test_data_errors.py.
"""

import os
import pickle
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
from PIL import Image

from nnlite.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _png_header_only(path, width, height):
    """A PNG whose header claims ``width x height`` grey pixels: a bomb without the bytes of one."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b""))


def _folder(root, extra=None):
    rng = np.random.default_rng(0)
    for cls in ("a", "b"):
        (root / cls).mkdir(parents=True)
        for k in range(3):
            Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(root / cls / f"{k}.png")
    if extra is not None:
        extra(root / "b")
    return str(root)


def _cases(tmp):
    bomb = _folder(tmp / "bomb", lambda cls: _png_header_only(cls / "bomb.png", 20000, 20000))
    broken = _folder(tmp / "broken", lambda cls: (cls / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0junk"))
    plain = _folder(tmp / "plain")
    (tmp / "cache.txt").write_text("not a folder")
    crafted = tmp / "train.pk"
    array = pickle.dumps(np.array([1, "a"], dtype=object), protocol=2)
    crafted.write_bytes(array.replace(b"K\x02\x85", b"J" + struct.pack("<i", 10**9) + b"\x85"))
    cifar = tmp / "cifar-10-batches-py"
    cifar.mkdir()
    whole = pickle.dumps({b"data": np.zeros((4, 3072), np.uint8), b"labels": [0, 1, 2, 3]}, protocol=2)
    (cifar / "data_batch_1").write_bytes(whole[:len(whole) // 2])
    train = ["train", "--quiet", "--iterations", "1", "--patches", "20", "--output", str(tmp / "out")]
    return {
        "bomb": (train + ["folder", bomb], ["bomb.png", "400,000,000 pixels", "MAX_IMAGE_PIXELS"]),
        "broken image": (train + ["folder", broken], ["broken.jpg", "damaged or not an image"]),
        "cache-dir is a file": (train + ["folder", plain, "--cache-dir", str(tmp / "cache.txt")],
                                ["cache.txt", "not a folder"]),
        "patches beyond memory": (["train", "--quiet", "--patches", "1000000000000", "--output",
                                   str(tmp / "out2")], ["1000000000000 patches", "available"]),
        "crafted pickle": (train + ["pickle", str(crafted)], ["train.pk", "corrupted"]),
        "truncated cifar batch": (train + ["cifar10", str(cifar)], ["data_batch_1", "truncated"]),
        "classify bomb": (["classify", "folder", bomb, "--quiet", "--output", str(tmp / "out3")],
                          ["bomb.png", "pixels"]),
    }


CASES = ["bomb", "broken image", "cache-dir is a file", "patches beyond memory", "crafted pickle",
         "truncated cifar batch", "classify bomb"]
SUBPROCESS_CASES = ["bomb", "crafted pickle", "patches beyond memory"]


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    return _cases(tmp_path_factory.mktemp("cli-data-errors"))


@pytest.fixture(scope="module")
def subprocess_results(cases):
    environment = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    running = {name: subprocess.Popen([sys.executable, "-m", "nnlite"] + cases[name][0],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                      env=environment)
               for name in SUBPROCESS_CASES}
    done = {}
    for name, process in running.items():
        out, err = process.communicate(timeout=300)
        done[name] = (process.returncode, out, err)
    return done


def _check(status, err, expected):
    assert "Traceback" not in err, err
    assert status == 2, err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, err
    for fragment in expected:
        assert fragment in lines[0], lines[0]


@pytest.mark.parametrize("case", CASES)
def test_bad_data_is_one_error_line_with_status_2(cases, case, capsys):
    argv, expected = cases[case]
    status = main(argv)
    _check(status, capsys.readouterr().err, expected)


@pytest.mark.parametrize("case", SUBPROCESS_CASES)
def test_the_same_as_a_real_process(cases, subprocess_results, case):
    status, _, err = subprocess_results[case]
    _check(status, err, cases[case][1])
