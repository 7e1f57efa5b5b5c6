import numpy as np

from mmoe_np.__main__ import main
from mmoe_np.experiments import compare


def test_compare_end_to_end(tmp_path, capsys):
    figure = tmp_path / "compare.png"
    code = main(["compare", "--runs", "2", "--steps", "30", "--correlations", "0.5", "1.0", "--jobs", "1",
                 "--backend", "numpy", "--no-progress", "--figure", str(figure)])
    out = capsys.readouterr().out
    assert code == 0
    assert "| Shared-Bottom | 0.5 |" in out and "| MMoE | 1 |" in out and "loss at 0.5 / loss at 1" in out
    assert "What 2 runs cannot show: anything" in out and "Paired by run" in out
    assert "→ too few runs to compare" in out and " is lower than " not in out
    assert figure.stat().st_size > 10_000


def test_compare_same_seed_same_numbers():
    kw = dict(correlations=(0.9,), runs=1, steps=20, eval_every=10, n_test=64, backend="numpy", jobs=1,
              progress=False)
    a, b = compare.run(seed=3, **kw), compare.run(seed=3, **kw)
    np.testing.assert_array_equal(a["curves"], b["curves"])
    assert a["curves"].shape == (1, 1, 3, 2)


def test_compare_takes_other_models_and_sizes():
    result = compare.run(correlations=(0.5,), runs=1, steps=10, eval_every=10, n_test=32, jobs=1, progress=False,
                         models=("single_task", "shared_bottom"), sizes={"shared_bottom": {"bottom_units": 7}})
    assert list(result["models"]) == ["single_task", "shared_bottom"]


def test_cli_bad_option_is_one_line(capsys):
    code = main(["compare", "--runs", "0", "--no-progress"])
    assert code == 2
    assert "runs" in capsys.readouterr().err
