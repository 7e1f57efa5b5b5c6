import numpy as np

from mmoe_np.__main__ import main
from mmoe_np.experiments import compare


def test_compare_end_to_end(tmp_path, capsys):
    figure = tmp_path / "compare.png"
    code = main(["compare", "--runs", "2", "--steps", "30", "--correlations", "0.5", "1.0",
                 "--backend", "numpy", "--no-progress", "--figure", str(figure)])
    out = capsys.readouterr().out
    assert code == 0
    assert "Shared-Bottom" in out and "MMoE" in out and "corr 0.5" in out
    assert figure.stat().st_size > 10_000


def test_compare_same_seed_same_numbers():
    kw = dict(correlations=(0.9,), runs=1, steps=20, eval_every=10, n_train=256, n_test=64,
              backend="numpy", progress=False)
    a, b = compare.run(seed=3, **kw), compare.run(seed=3, **kw)
    np.testing.assert_array_equal(a["curves"], b["curves"])
    assert a["curves"].shape == (1, 1, 3, 2)


def test_cli_bad_option_is_one_line(capsys):
    code = main(["compare", "--runs", "0", "--no-progress"])
    assert code == 2
    assert "runs" in capsys.readouterr().err
