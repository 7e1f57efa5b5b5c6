"""The census-income loader and experiment: on small files made here, and on the shared test file."""
import gzip
import hashlib
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from mmoe_np.__main__ import main
from mmoe_np.data import census

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
REPO = Path(__file__).resolve().parents[1]
EDUCATION = ["High school graduate", "Bachelors degree(BA AB BS)", "Children", "Doctorate degree(PhD EdD)"]
MARITAL = ["Never married", "Married-civilian spouse present", "Divorced"]


def fake_rows(n, seed=0):
    """Rows in the census format: 42 columns, labels correlated with a few features."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        row = [f"cat{rng.integers(3)}" for _ in census.COLUMNS]
        for name in census.CONTINUOUS + ("instance_weight",):
            row[census.COLUMNS.index(name)] = str(int(rng.integers(0, 90)))
        row[census.COLUMNS.index("education")] = EDUCATION[rng.integers(4)]
        row[census.COLUMNS.index("marital_status")] = MARITAL[rng.integers(3)]
        rich = row[census.COLUMNS.index("education")] in census.COLLEGE_OR_MORE and rng.random() < 0.6
        row[-1] = "50000+." if rich else "- 50000."
        rows.append(row)
    return rows


def write(path, rows, gz=True):
    text = "".join(", ".join(r) + "\n" for r in rows)
    if gz:
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        path.write_text(text)
    return path


@pytest.fixture
def test_only_dir(tmp_path):
    write(tmp_path / census.TEST_FILE, fake_rows(400))
    return tmp_path


def test_test_file_only_mode_is_reported_and_split_50_25_25(test_only_dir):
    with pytest.warns(UserWarning, match="test-file-only mode"):
        data = census.load_census(test_only_dir, group=1, seed=0)
    assert data.mode == "test-file-only" and "TEST-FILE-ONLY" in data.summary()
    assert (len(data.X_train), len(data.X_val), len(data.X_test)) == (200, 100, 100)
    assert data.Y_train.shape == (200, 2) and set(np.unique(data.Y_train)) <= {0.0, 1.0}
    age = data.feature_names.index("age")
    assert abs(data.X_train[:, age].mean()) < 1e-12 and data.X_train[:, age].std() == pytest.approx(1.0)
    assert not any(name.startswith(("income", "marital_status", "education", "instance_weight"))
                   for name in data.feature_names)


def test_group_labels(test_only_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g1 = census.load_census(test_only_dir, group=1, seed=0)
        g2 = census.load_census(test_only_dir, group=2, seed=0)
    np.testing.assert_array_equal(g1.Y_train[:, 1], g2.Y_train[:, 1])        # never married in both
    assert g2.task_names == ("college_or_more", "never_married")
    X_all = np.concatenate([g1.X_train, g1.X_val, g1.X_test])
    assert np.isfinite(X_all).all()


def accept_as_uci(monkeypatch, folder):
    """Make the loader take the small files in ``folder`` for UCI's (their row counts and content hash)."""
    digest = hashlib.sha256()
    monkeypatch.setattr(census, "TRAIN_ROWS", len(census.read_rows(folder / census.TRAIN_FILE, digest=digest)))
    monkeypatch.setattr(census, "TRAIN_CONTENT_SHA256", digest.hexdigest())
    monkeypatch.setattr(census, "TEST_ROWS", len(census.read_rows(folder / census.TEST_FILE)))


@pytest.fixture
def paper_dir(tmp_path, monkeypatch):
    write(tmp_path / census.TRAIN_FILE, fake_rows(300, seed=1))
    write(tmp_path / census.TEST_FILE, fake_rows(101, seed=2))
    accept_as_uci(monkeypatch, tmp_path)
    return tmp_path


def test_paper_mode_uses_train_file_and_halves_the_test_file(paper_dir):
    data = census.load_census(paper_dir, group=1, seed=0)
    assert data.mode == "paper" and data.rows == (300, 50, 51)
    assert "paper protocol" in data.summary() and "test rows are identical to a train row" in data.summary()


def test_a_copy_or_a_link_of_the_test_file_is_never_the_train_file(tmp_path, monkeypatch):
    """The loader once accepted a copy (or a symlink) of the test file as 'paper protocol'."""
    write(tmp_path / census.TEST_FILE, fake_rows(101, seed=2))
    shutil.copy(tmp_path / census.TEST_FILE, tmp_path / census.TRAIN_FILE)
    accept_as_uci(monkeypatch, tmp_path)                       # even with the row count and hash it would need
    with pytest.raises(census.CensusFormatError, match="census-income.data.gz: is the test file itself"):
        census.load_census(tmp_path)
    (tmp_path / census.TRAIN_FILE).unlink()
    (tmp_path / census.TRAIN_FILE).symlink_to(tmp_path / census.TEST_FILE)
    with pytest.raises(census.CensusFormatError, match="is the test file itself"):
        census.load_census(tmp_path)


def test_the_train_file_is_checked_by_row_count_and_content_whenever_it_is_used(paper_dir, monkeypatch):
    monkeypatch.setattr(census, "TRAIN_ROWS", 199_523)
    with pytest.raises(census.CensusFormatError, match="census-income.data.gz: 300 rows, but UCI's train file has "
                                                       "199,523: it is not census-income.data"):
        census.load_census(paper_dir)
    monkeypatch.setattr(census, "TRAIN_ROWS", 300)
    rows = fake_rows(300, seed=1)
    rows[7][0] = "42" if rows[7][0] != "42" else "43"           # one value changed, same row count
    write(paper_dir / census.TRAIN_FILE, rows)
    with pytest.raises(census.CensusFormatError, match="its uncompressed content has sha256 .* not UCI's"):
        census.load_census(paper_dir)


def test_test_rows_leaked_into_the_train_file_are_refused(tmp_path, monkeypatch):
    test = fake_rows(100, seed=2)
    write(tmp_path / census.TRAIN_FILE, fake_rows(290, seed=1) + test[:10])      # 10% of the test rows
    write(tmp_path / census.TEST_FILE, test)
    accept_as_uci(monkeypatch, tmp_path)
    with pytest.raises(census.CensusFormatError, match=r"10 of the 100 test rows \(10%\) are also train rows"):
        census.load_census(tmp_path)
    write(tmp_path / census.TRAIN_FILE, fake_rows(297, seed=1) + test[:3])       # 3%: chance, as in UCI's files
    accept_as_uci(monkeypatch, tmp_path)
    assert census.load_census(tmp_path).overlap == 3


def test_unseen_category_encodes_as_zeros(tmp_path, monkeypatch):
    train, test = fake_rows(50, seed=1), fake_rows(20, seed=2)
    test[0][census.COLUMNS.index("race")] = "never seen before"
    write(tmp_path / census.TRAIN_FILE, train)
    write(tmp_path / census.TEST_FILE, test)
    accept_as_uci(monkeypatch, tmp_path)
    data = census.load_census(tmp_path, group=1, seed=0)
    race = [i for i, n in enumerate(data.feature_names) if n.startswith("race=")]
    rows_with_race = np.concatenate([data.X_val, data.X_test])[:, race].sum(axis=1)
    assert sorted(rows_with_race)[0] == 0.0 and rows_with_race.max() == 1.0


def test_wrong_column_count_names_file_and_line(tmp_path):
    rows = fake_rows(10)
    path = write(tmp_path / census.TEST_FILE, rows[:6] + [rows[6][:30]] + rows[7:])
    with pytest.raises(census.CensusFormatError, match=r"census-income.test.gz, line 7: expected 42 .* found 30"):
        census.read_rows(path)


def test_bad_label_names_file_and_line(tmp_path):
    rows = fake_rows(5)
    rows[2][-1] = "maybe"
    path = write(tmp_path / "plain.csv", rows, gz=False)
    with pytest.raises(census.CensusFormatError, match=r"plain.csv, line 3: income label"):
        census.read_rows(path)


def test_truncated_gzip_is_reported(tmp_path):
    path = write(tmp_path / census.TEST_FILE, fake_rows(2000))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(census.CensusFormatError, match="truncated or corrupt"):
        census.read_rows(path)


def test_missing_data_dir_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("MMOE_NP_DATA", raising=False)
    with pytest.raises(ValueError, match="MMOE_NP_DATA is not set"):
        census.load_census(None)
    with pytest.raises(FileNotFoundError, match="census-income.test.gz not found"):
        census.load_census(tmp_path)
    with pytest.raises(ValueError, match="group must be one of"):
        census.load_census(tmp_path, group=3)


def test_download_verifies_checksum_and_row_count(tmp_path, monkeypatch):
    source = tmp_path / "uci"
    source.mkdir()
    write(source / census.TEST_FILE, fake_rows(20))
    write(source / census.TRAIN_FILE, fake_rows(30))
    url = source.as_uri() + "/"
    with pytest.raises(ValueError, match="sha256 .* does not match"):
        census.download(tmp_path / "a", base_url=url)
    assert not (tmp_path / "a" / census.TEST_FILE).exists()
    monkeypatch.setattr(census, "TEST_SHA256", census.sha256_of(source / census.TEST_FILE))
    with pytest.raises(ValueError, match="30 rows, expected 199523"):
        census.download(tmp_path / "b", base_url=url)
    monkeypatch.setattr(census, "TRAIN_ROWS", 30)
    with pytest.raises(ValueError, match="uncompressed content sha256 .* does not match"):
        census.download(tmp_path / "c", base_url=url)
    digest = hashlib.sha256()
    census.read_rows(source / census.TRAIN_FILE, digest=digest)
    monkeypatch.setattr(census, "TRAIN_CONTENT_SHA256", digest.hexdigest())
    folder = census.download(tmp_path / "c", base_url=url)
    assert census.read_rows(folder / census.TRAIN_FILE) == census.read_rows(source / census.TRAIN_FILE)


CENSUS = ["reproduce", "census", "--runs", "3", "--steps", "40", "--batch-size", "32", "--eval-every", "10",
          "--backend", "numpy", "--no-progress"]


def test_reproduce_census_in_test_file_only_mode(test_only_dir, tmp_path, capsys):
    out = tmp_path / "table.md"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main([*CENSUS, "--group", "2", "--data-dir", str(test_only_dir), "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0
    saved = out.read_text()
    assert "TEST-FILE-ONLY" in text and "college_or_more" in saved and "| Single-Task | 3 |" in saved
    assert "Rows: train 200, validation 100, test 100." in saved
    assert "| MMoE − Shared-Bottom | college_or_more |" in saved and "→ " in saved
    assert saved.count(" [0.") >= 8                             # t intervals of the means


def test_reproduce_census_follows_the_paper_split_with_both_files(paper_dir, tmp_path, capsys):
    out = tmp_path / "table.md"
    code = main([*CENSUS, "--group", "1", "--data-dir", str(paper_dir), "--out", str(out), "--methods", "shared_bottom",
                 "mmoe"])
    assert code == 0, capsys.readouterr().err
    saved = out.read_text()
    assert "(paper mode)" in saved and "Rows: train 300, validation 50, test 51" in saved
    assert "| MMoE | 3 |" in saved and "| 0.9359 | 0.9410 |" in saved               # beside the paper's numbers
    assert "| MMoE − Shared-Bottom | income_over_50k |" in saved


def test_runs_on_the_run_axis_equal_runs_trained_alone(paper_dir):
    """Each run is stopped on its own AUC and keeps its own best parameters, as if it had been trained alone."""
    from mmoe_np.experiments.census import build, train_with_early_stopping
    data = census.load_census(paper_dir, group=1, seed=0)
    kw = dict(main=0, lr=3e-3, steps=60, batch_size=16, eval_every=5, patience=2)
    D = data.X_train.shape[1]
    together = build("mmoe", D, 2, [4, 5], "numpy")
    steps = train_with_early_stopping(together, data.X_train, data.Y_train, data.X_val, data.Y_val, seed=[7, 8], **kw)
    for r, (s, order) in enumerate(((4, 7), (5, 8))):
        alone = build("mmoe", D, 2, s, "numpy")
        step = train_with_early_stopping(alone, data.X_train, data.Y_train, data.X_val, data.Y_val, seed=order, **kw)
        assert step == steps[r]
        np.testing.assert_allclose(together.params.flat[r], alone.params.flat, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("options, words", [(["--runs", "0"], "--runs must be a positive integer"),
                                            (["--batch-size", "0"], "--batch-size must be a positive integer"),
                                            (["--patience", "0"], "--patience must be a positive integer"),
                                            (["--lr", "0"], "--lr must be")])
def test_bad_census_options_are_one_line(test_only_dir, tmp_path, capsys, options, words):
    code = main([*CENSUS, "--data-dir", str(test_only_dir), "--out", str(tmp_path / "t.md"), *options])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and words in err, err


@pytest.mark.skipif(not (SHARED / census.TEST_FILE).exists(),
                    reason=f"{SHARED / census.TEST_FILE} is absent (see the data README); shared-file checks skipped")
def test_shared_files_follow_the_paper_split_and_match_its_label_correlations():
    """Both files: the paper's split (199,523 / 49,881 / 49,881); only the test file: test-file-only mode.
    Either way the labels' Pearson correlations are the paper's (0.1768 and 0.2373, reported without sign)."""
    assert census.sha256_of(SHARED / census.TEST_FILE) == census.TEST_SHA256
    from mmoe_np.metrics import pearson
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = census.load_census(SHARED, group=1, seed=0, dtype=np.float32)
    if (SHARED / census.TRAIN_FILE).exists():
        assert data.mode == "paper" and data.rows == (199_523, 49_881, 49_881) and data.overlap == 2_925
        rows = census.read_rows(SHARED / census.TRAIN_FILE) + census.read_rows(SHARED / census.TEST_FILE)
    else:
        assert data.mode == "test-file-only" and sum(data.rows) == census.TEST_ROWS
        rows = census.read_rows(SHARED / census.TEST_FILE)
    table = census.Table.from_rows(rows)
    for group, paper in census_paper_correlations().items():
        Y = census.labels(table, np.arange(len(table)), group)
        assert abs(abs(pearson(Y[:, 0], Y[:, 1])) - paper) < 0.01


def census_paper_correlations():
    from mmoe_np.experiments.census import PAPER_LABEL_PEARSON
    return PAPER_LABEL_PEARSON


def test_a_bad_number_names_the_file_the_line_and_the_column(tmp_path):
    rows = fake_rows(10)
    rows[4][census.COLUMNS.index("age")] = "abc"
    path = write(tmp_path / census.TEST_FILE, rows)
    with pytest.raises(census.CensusFormatError, match=r"census-income.test.gz, line 5, column 1 \(age\): expected a "
                                                        r"number, got 'abc'"):
        census.read_rows(path)


def test_a_corrupted_gzip_is_reported_as_corruption(tmp_path):
    path = write(tmp_path / census.TEST_FILE, fake_rows(3000))
    data = bytearray(path.read_bytes())
    for i in range(len(data) // 3, len(data) // 3 + 64):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(census.CensusFormatError, match="truncated or corrupt"):
        census.read_rows(path)
    (tmp_path / "plain.gz").write_text("not gzip at all\n")
    with pytest.raises(census.CensusFormatError, match="truncated or corrupt"):
        census.read_rows(tmp_path / "plain.gz")


def test_a_file_too_small_for_the_split_is_a_clear_error(tmp_path):
    write(tmp_path / census.TEST_FILE, fake_rows(12))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(census.CensusFormatError,
                           match=r"too few rows for the split \(12 in census-income.test.gz\)"):
            census.load_census(tmp_path)


def test_the_summary_states_the_real_row_count(test_only_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = census.load_census(test_only_dir, group=1, seed=0)
    assert "the 400 rows of the test file" in data.summary() and "99,762" not in data.summary()


def test_roc_auc_rejects_nan_scores():
    from mmoe_np.metrics import roc_auc
    with pytest.raises(ValueError, match="scores contain NaN"):
        roc_auc([0, 1, 1], [0.1, np.nan, 0.3])


def test_census_keeps_raw_results_and_rewrites_its_report_and_block_from_them(test_only_dir, tmp_path, capsys):
    """The report and the README's block are made from the saved record: rewriting them needs no training."""
    import json
    out, doc = tmp_path / "table.md", tmp_path / "doc.md"
    doc.write_text("intro\n<!-- BEGIN generated: census_group2 -->\nold\n<!-- END generated: census_group2 -->\nend\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main([*CENSUS, "--group", "2", "--data-dir", str(test_only_dir), "--out", str(out), "--methods",
                     "shared_bottom", "mmoe", "--write", str(doc)])
    assert code == 0, capsys.readouterr().err
    record = json.loads(out.with_suffix(".json").read_text())
    assert np.asarray(record["auc"]["mmoe"]).shape == (3, 2) and record["rows"] == {"train": 200, "validation": 100,
                                                                                      "test": 100}
    saved, block = out.read_text(), doc.read_text()
    assert "| MMoE − Shared-Bottom | college_or_more |" in block and "old" not in block and block.endswith("end\n")
    out.write_text("edited by hand\n")
    doc.write_text(doc.read_text().replace("| MMoE |", "| MMoE (edited) |"))
    assert main(["reproduce", "census", "--group", "2", "--out", str(out), "--from-results", "--write", str(doc)]) == 0
    assert out.read_text() == saved and doc.read_text() == block
    assert main(["reproduce", "census", "--group", "1", "--out", str(out), "--from-results"]) == 2
    assert "holds group 2, not --group 1" in capsys.readouterr().err
    assert main(["reproduce", "census", "--group", "2", "--out", str(out), "--from-results", "--runs", "5"]) == 2
    assert "--from-results trains nothing, so --runs has no effect" in capsys.readouterr().err


def test_a_smoke_census_run_cannot_write_a_committed_document(test_only_dir, capsys):
    code = main([*CENSUS, "--data-dir", str(test_only_dir), "--write", str(REPO / "README.md")])
    assert code == 2 and "a committed document takes only the full run's numbers" in capsys.readouterr().err


@pytest.mark.parametrize("group", [1, 2])
def test_committed_census_report_and_readme_block_come_from_the_raw_results(group):
    """results/census_groupN.md and README's census_groupN block are what the committed raw AUCs make
    (fix: python -m mmoe_np reproduce census --group N --from-results --write README.md)."""
    from mmoe_np.experiments.census import DEFAULTS, read_record, report, summary_block
    from mmoe_np.experiments.report import read_blocks
    record = read_record(REPO / "results" / f"census_group{group}.json")
    assert record["mode"] == "paper" and record["rows"] == {"train": 199_523, "validation": 49_881, "test": 49_881}
    assert record["options"] == DEFAULTS and all(len(v) >= 10 for v in record["auc"].values())
    assert (REPO / "results" / f"census_group{group}.md").read_text() == report(record) + "\n"
    assert read_blocks(REPO / "README.md")[f"census_group{group}"] == summary_block(record)
    from findings_reader import check, lines
    assert {check(line) for line in lines(report(record))} == {"interval", "share"}     # words agree with numbers
