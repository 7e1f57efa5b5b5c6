"""UCI Census-Income (KDD) for the paper's real-data experiment (Ma et al. 2018, §5.2).

Files (from the UCI archive folder ``census-income-mld/``): ``census-income.data.gz``
(train, 199,523 rows) and ``census-income.test.gz`` (99,762 rows); 42 comma-separated
columns, no header, in the order of UCI's ``census-income.names`` (``COLUMNS`` below).

Tasks (two groups, as in the paper):

- group 1: income > 50K (main task) and marital status "Never married";
- group 2: education at least college (main task) and marital status "Never married".
  "At least college" is not spelled out in the paper; we read it as holding a college
  degree: Associates (either kind), Bachelors, Masters, professional school or Doctorate
  (``COLLEGE_OR_MORE``). "Some college but no degree" does not count.

Features: every column except the three label columns (income, marital status,
education) and ``instance_weight``; categorical columns one-hot encoded, continuous ones
standardised, both with statistics from the training split only (a category first seen in
validation or test data encodes as all zeros).

Splits: the paper trains on the train file and splits the test file 1:1 at random
(seeded) into validation and test (199,523 / 49,881 / 49,881 rows). When only the test file
is present (a CI machine without the train file), ``load_census`` runs in a clearly reported
*test-file-only* mode: the 99,762 test rows are split 50/25/25 into train/validation/test.

What it checks whenever it uses the train file (paper mode): its row count (199,523) and the
sha256 of its uncompressed content (the .gz may be re-compressed, so never the .gz's own hash),
the test file's row count, that the two are not one file, and that the test rows do not come
from the train file: the UCI files share 2,925 identical rows by chance (2.9% of the test file:
people who gave the same answers and carry the same weight), so more than ``MAX_OVERLAP`` (5%)
of the test rows found in the train file is refused.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import urllib.request
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import _checks

TRAIN_FILE, TEST_FILE = "census-income.data.gz", "census-income.test.gz"
TEST_SHA256 = "5ac4cacd3ca9f1ecb10de1a0a41e4ac68fdc419e3fec190f5c0c6cc03b2ea659"
TRAIN_ROWS, TEST_ROWS = 199_523, 99_762
TRAIN_CONTENT_SHA256 = "3676a81db7d3528f3f8b9f3c699d0f0aa28db45e6e994fa0b8ed38327539ee86"   # uncompressed
MAX_OVERLAP = 0.05                 # share of test rows identical to a train row above which the files are refused
MIN_ROWS = 10                      # fewest rows a train, validation or test part may have
UCI_URL = "https://archive.ics.uci.edu/ml/machine-learning-databases/census-income-mld/"

COLUMNS = (
    "age", "class_of_worker", "detailed_industry_recode", "detailed_occupation_recode", "education",
    "wage_per_hour", "enroll_in_edu_inst_last_wk", "marital_status", "major_industry_code",
    "major_occupation_code", "race", "hispanic_origin", "sex", "member_of_a_labor_union",
    "reason_for_unemployment", "full_or_part_time_employment_stat", "capital_gains", "capital_losses",
    "dividends_from_stocks", "tax_filer_stat", "region_of_previous_residence",
    "state_of_previous_residence", "detailed_household_and_family_stat",
    "detailed_household_summary_in_household", "instance_weight", "migration_code_change_in_msa",
    "migration_code_change_in_reg", "migration_code_move_within_reg", "live_in_this_house_1_year_ago",
    "migration_prev_res_in_sunbelt", "num_persons_worked_for_employer", "family_members_under_18",
    "country_of_birth_father", "country_of_birth_mother", "country_of_birth_self", "citizenship",
    "own_business_or_self_employed", "fill_inc_questionnaire_for_veterans_admin", "veterans_benefits",
    "weeks_worked_in_year", "year", "income",
)
CONTINUOUS = ("age", "wage_per_hour", "capital_gains", "capital_losses", "dividends_from_stocks",
              "num_persons_worked_for_employer", "weeks_worked_in_year")
LABEL_COLUMNS = ("income", "marital_status", "education")
DROPPED = LABEL_COLUMNS + ("instance_weight",)
COLLEGE_OR_MORE = (
    "Associates degree-academic program", "Associates degree-occup /vocational",
    "Bachelors degree(BA AB BS)", "Masters degree(MA MS MEng MEd MSW MBA)",
    "Prof school degree (MD DDS DVM LLB JD)", "Doctorate degree(PhD EdD)",
)
GROUPS = {1: ("income_over_50k", "never_married"), 2: ("college_or_more", "never_married")}


class CensusFormatError(ValueError):
    """A census file is malformed; the message names the file and the line."""


# ------------------------------------------------------------------------------ reading
def read_rows(path, compressed=None, digest=None) -> list[list[str]]:
    """Parse one census file into rows of 42 strings (gzip when ``compressed``; default: by suffix).
    ``digest`` (a ``hashlib`` object), if given, is fed the uncompressed content on the way.

    Raises CensusFormatError naming the file and line for a wrong column count, and for a
    truncated or corrupt gzip stream.
    """
    path = Path(path)
    compressed = path.suffix == ".gz" if compressed is None else compressed
    opener = gzip.open if compressed else open
    rows, lines = [], []
    line_no = 0
    try:
        with opener(path, "rb") as f:
            try:
                for line_no, raw in enumerate(f, start=1):
                    if digest is not None:
                        digest.update(raw)
                    line = raw.decode("latin-1").rstrip("\r\n")
                    if not line.strip():
                        continue
                    rows.append(_fields(line, path, line_no))
                    lines.append(line_no)
            except CensusFormatError:
                if compressed:      # garbage from a damaged stream: corruption is the real error
                    for _ in f:
                        pass
                raise
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as err:
        raise CensusFormatError(f"{path}: the gzip stream is truncated or corrupt after line {line_no} "
                                f"({type(err).__name__}: {err}); download the file again") from None
    if not rows:
        raise CensusFormatError(f"{path}: no data rows")
    _check_numbers(rows, lines, path)
    return rows


def _fields(line, path, line_no):
    """One line's 42 fields, checked for their number and the income label."""
    fields = line.split(", ")
    if len(fields) != len(COLUMNS):
        raise CensusFormatError(f"{path}, line {line_no}: expected {len(COLUMNS)} comma-separated columns, "
                                f"found {len(fields)}")
    if fields[-1] not in ("- 50000.", "50000+.", "- 50000", "50000+"):
        raise CensusFormatError(f"{path}, line {line_no}: income label must be '- 50000.' or '50000+.', got "
                                f"{fields[-1]!r}")
    return fields


def _check_numbers(rows, lines, path):
    """Every continuous column must parse as a number; else name the file, the line and the column."""
    for name in CONTINUOUS + ("instance_weight",):
        col = COLUMNS.index(name)
        try:
            np.array([r[col] for r in rows], dtype=np.float64)
        except ValueError:
            for row, line_no in zip(rows, lines):
                try:
                    float(row[col])
                except ValueError:
                    raise CensusFormatError(f"{path}, line {line_no}, column {col + 1} ({name}): expected a number, "
                                            f"got {row[col]!r}") from None


@dataclass
class Table:
    """A census file as numbers: continuous columns as floats, the others as integer codes.

    ``numeric[name]`` (n,) float64; ``codes[name]`` (n,) int64 indexing ``levels[name]``.
    """

    numeric: dict
    codes: dict
    levels: dict

    @classmethod
    def from_rows(cls, rows):
        numeric, codes, levels = {}, {}, {}
        for name, col in zip(COLUMNS, zip(*rows)):     # one transpose, in C
            if name in CONTINUOUS or name == "instance_weight":
                numeric[name] = np.array(col, dtype=np.float64)
            else:
                index = {}
                codes[name] = np.fromiter((index.setdefault(v, len(index)) for v in col), np.int64, len(col))
                levels[name] = list(index)
        return cls(numeric, codes, levels)

    def __len__(self):
        return len(next(iter(self.codes.values())))

    def is_(self, name, values) -> np.ndarray:
        """Boolean (n,): column ``name`` takes one of ``values``."""
        wanted = np.array([level in values for level in self.levels[name]])    # per level code
        return wanted[self.codes[name]]


def labels(table: Table, rows, group: int) -> np.ndarray:
    """The two binary labels of ``group`` (1 or 2) for ``rows``: (n, 2) float64, main task first."""
    income = table.is_("income", ("50000+.", "50000+"))[rows]
    never_married = table.is_("marital_status", ("Never married",))[rows]
    college = table.is_("education", COLLEGE_OR_MORE)[rows]
    main = income if group == 1 else college
    return np.stack([main, never_married], axis=1).astype(np.float64)


# ----------------------------------------------------------------------------- encoding
@dataclass
class Encoder:
    """One-hot categories and standardisation statistics, learned on training rows only."""

    position: dict = field(default_factory=dict)   # column -> (n_levels,) one-hot slot or -1
    names: dict = field(default_factory=dict)      # column -> category names, in slot order
    means: dict = field(default_factory=dict)
    stds: dict = field(default_factory=dict)

    @classmethod
    def fit(cls, table: Table, rows):
        enc = cls()
        for name in COLUMNS:
            if name in DROPPED:
                continue
            if name in CONTINUOUS:
                x = table.numeric[name][rows]
                enc.means[name], enc.stds[name] = float(x.mean()), float(x.std() or 1.0)
            else:
                seen = np.unique(table.codes[name][rows])        # categories of the training rows
                slot = np.full(len(table.levels[name]), -1)
                slot[seen] = np.arange(len(seen))
                enc.position[name] = slot
                enc.names[name] = [table.levels[name][i] for i in seen]
        return enc

    @property
    def feature_names(self):
        names = []
        for name in COLUMNS:
            if name in CONTINUOUS:
                names.append(name)
            elif name in self.names:
                names += [f"{name}={v}" for v in self.names[name]]
        return names

    def transform(self, table: Table, rows, dtype=np.float64) -> np.ndarray:
        """(n, n_features) of ``dtype``: standardised continuous columns and one-hot blocks, written into
        one array (no per-column blocks to concatenate)."""
        n = len(rows)
        out = np.zeros((n, len(self.feature_names)), dtype=dtype)
        column = 0
        for name in COLUMNS:
            if name in CONTINUOUS:
                out[:, column] = (table.numeric[name][rows] - self.means[name]) / self.stds[name]
                column += 1
            elif name in self.position:
                slot = self.position[name][table.codes[name][rows]]     # -1: unseen in training
                known = slot >= 0
                out[np.nonzero(known)[0], column + slot[known]] = 1.0
                column += len(self.names[name])
        return out


# -------------------------------------------------------------------------------- loading
@dataclass
class CensusData:
    """Encoded splits. ``Y_*`` columns: (main task, never married)."""

    X_train: np.ndarray
    Y_train: np.ndarray
    X_val: np.ndarray
    Y_val: np.ndarray
    X_test: np.ndarray
    Y_test: np.ndarray
    feature_names: list
    task_names: tuple
    mode: str          # "paper" or "test-file-only"
    group: int
    overlap: int = 0   # test rows identical to a train row (paper mode; the UCI files share 2,925)

    @property
    def rows(self):
        """(train, validation, test) row counts."""
        return len(self.X_train), len(self.X_val), len(self.X_test)

    def summary(self) -> str:
        rows = len(self.X_train) + len(self.X_val) + len(self.X_test)
        mode = ("paper protocol: train file for training, test file split 1:1 into validation/test "
                f"({self.overlap:,} test rows are identical to a train row, as in UCI's own files)"
                if self.mode == "paper" else
                f"TEST-FILE-ONLY mode: census-income.data.gz not found, so the {rows:,} rows of the test "
                "file are split 50/25/25 into train/validation/test (numbers are not the paper's protocol)")
        return (f"census-income group {self.group}: tasks {self.task_names}; {mode}\n"
                f"train {len(self.X_train)}, validation {len(self.X_val)}, test {len(self.X_test)} rows; "
                f"{self.X_train.shape[1]} features; positive rate train "
                f"{self.Y_train.mean(axis=0).round(3).tolist()}")


def data_dir_from(data_dir=None) -> Path:
    """``data_dir``, else ``$MMOE_NP_DATA``; a clear error if neither names a folder."""
    folder = data_dir or os.environ.get("MMOE_NP_DATA")
    if not folder:
        raise ValueError("data_dir is not given and MMOE_NP_DATA is not set: name the folder that "
                         f"holds {TEST_FILE} (and optionally {TRAIN_FILE})")
    folder = Path(folder)
    if not (folder / TEST_FILE).is_file():
        raise FileNotFoundError(f"{folder / TEST_FILE} not found; mmoe_np.data.census.download({str(folder)!r}) "
                                "fetches it (needs internet)")
    return folder


def check_train_file(folder, train_rows, test_rows, content_sha256):
    """The paper mode's checks (module docstring): a CensusFormatError naming the file when one fails.
    Returns the number of test rows identical to a train row."""
    train_path, test_path = folder / TRAIN_FILE, folder / TEST_FILE
    if os.path.samefile(train_path, test_path) or train_rows == test_rows:
        raise CensusFormatError(f"{train_path}: is the test file itself (the same file or a copy); the paper trains "
                                f"on UCI's census-income.data, never on test rows")
    if len(train_rows) != TRAIN_ROWS:
        raise CensusFormatError(f"{train_path}: {len(train_rows):,} rows, but UCI's train file has {TRAIN_ROWS:,}: "
                                "it is not census-income.data (remove it to run in test-file-only mode, or fetch it "
                                "again with mmoe_np.data.census.download)")
    if TRAIN_CONTENT_SHA256 is not None and content_sha256 != TRAIN_CONTENT_SHA256:
        raise CensusFormatError(f"{train_path}: its uncompressed content has sha256 {content_sha256}, not UCI's "
                                f"{TRAIN_CONTENT_SHA256}: the file was changed (fetch it again with "
                                "mmoe_np.data.census.download)")
    if len(test_rows) != TEST_ROWS:
        raise CensusFormatError(f"{test_path}: {len(test_rows):,} rows, but UCI's test file has {TEST_ROWS:,}")
    seen = set(map(tuple, train_rows))
    overlap = sum(tuple(r) in seen for r in test_rows)
    if overlap > MAX_OVERLAP * len(test_rows):
        raise CensusFormatError(f"{train_path}: {overlap:,} of the {len(test_rows):,} test rows "
                                f"({overlap / len(test_rows):.0%}) are also train rows (UCI's files share 2.9% by "
                                f"chance; more than {MAX_OVERLAP:.0%} means test rows leaked into the train file)")
    return overlap


def load_census(data_dir=None, group: int = 1, seed=0, dtype=np.float64) -> CensusData:
    """Load, label, split and encode the census-income data (see the module docstring); features as ``dtype``."""
    _checks.choice("group", group, GROUPS)
    dtype = _checks.float_dtype("dtype", dtype)
    folder = data_dir_from(data_dir)
    rng = _checks.generator("seed", seed)
    test_rows = read_rows(folder / TEST_FILE)
    order = rng.permutation(len(test_rows))
    overlap = 0
    if (folder / TRAIN_FILE).is_file():
        mode = "paper"
        digest = hashlib.sha256()
        train_rows = read_rows(folder / TRAIN_FILE, digest=digest)
        overlap = check_train_file(folder, train_rows, test_rows, digest.hexdigest())
        table = Table.from_rows(train_rows + test_rows)         # one set of codes for both files
        n_train, half = len(train_rows), len(order) // 2
        train = np.arange(n_train)
        val, test = n_train + order[:half], n_train + order[half:]
    else:
        mode = "test-file-only"
        warnings.warn(f"{folder / TRAIN_FILE} not found: test-file-only mode (the test file is split "
                      "50/25/25 into train/validation/test)", stacklevel=2)
        table = Table.from_rows(test_rows)
        a, b = len(order) // 2, (3 * len(order)) // 4
        train, val, test = order[:a], order[a:b], order[b:]
    for part, rows in (("train", train), ("validation", val), ("test", test)):
        if len(rows) < MIN_ROWS:
            raise CensusFormatError(
                f"{folder}: too few rows for the split ({len(test_rows)} in {TEST_FILE}"
                f"{'' if mode == 'test-file-only' else f', {n_train} in {TRAIN_FILE}'}): the {part} part would get "
                f"{len(rows)}, at least {MIN_ROWS} are needed")
    encoder = Encoder.fit(table, train)
    return CensusData(
        X_train=encoder.transform(table, train, dtype), Y_train=labels(table, train, group),
        X_val=encoder.transform(table, val, dtype), Y_val=labels(table, val, group),
        X_test=encoder.transform(table, test, dtype), Y_test=labels(table, test, group),
        feature_names=encoder.feature_names, task_names=GROUPS[group], mode=mode, group=group, overlap=overlap)


# ------------------------------------------------------------------------------ download
def sha256_of(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(data_dir, base_url: str = UCI_URL, train: bool = True):
    """Fetch the census files from the UCI archive into ``data_dir`` (explicit, never implicit).

    The test file must match its published sha256; the train file must have 199,523 rows.
    A file that fails its check is deleted and a ValueError says why.
    """
    folder = Path(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    names = [TEST_FILE] + ([TRAIN_FILE] if train else [])
    for name in names:
        target = folder / name
        partial = target.with_suffix(target.suffix + ".part")
        print(f"downloading {base_url}{name} -> {target}")
        with urllib.request.urlopen(base_url + name) as response, open(partial, "wb") as out:
            shutil.copyfileobj(response, out)
        if name == TEST_FILE:
            digest = sha256_of(partial)
            if digest != TEST_SHA256:
                partial.unlink()
                raise ValueError(f"{name}: sha256 {digest} does not match the expected {TEST_SHA256}")
        else:
            digest = hashlib.sha256()
            n = len(read_rows(partial, compressed=True, digest=digest))
            if n != TRAIN_ROWS:
                partial.unlink()
                raise ValueError(f"{name}: {n} rows, expected {TRAIN_ROWS}")
            if TRAIN_CONTENT_SHA256 is not None and digest.hexdigest() != TRAIN_CONTENT_SHA256:
                partial.unlink()
                raise ValueError(f"{name}: uncompressed content sha256 {digest.hexdigest()} does not match the "
                                 f"expected {TRAIN_CONTENT_SHA256}")
        partial.replace(target)
    return folder
