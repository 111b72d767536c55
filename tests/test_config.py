import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.config import (
    DEFAULT_FURNITURE_PATTERNS,
    PARTS,
    BoilerplateConfig,
    ClusterConfig,
    DedupConfig,
    MinHashConfig,
    NormalizeConfig,
    PassageConfig,
    ProvenanceConfig,
    ShingleConfig,
    VerifyConfig,
)
from dedup.errors import ConfigError, ConfigTypeError
from dedup.stores.sqlite import config_from_json, config_to_json

NAN, INF = math.nan, math.inf

# (config class, the one bad setting, the field the message must name): every field of every
# config, with values of the wrong type and values out of range.
BAD = [
    # NormalizeConfig
    (NormalizeConfig, {"drop_furniture": "no"}, "drop_furniture"),
    (NormalizeConfig, {"drop_furniture": 1}, "drop_furniture"),
    (NormalizeConfig, {"furniture_patterns": "share this"}, "furniture_patterns"),
    (NormalizeConfig, {"furniture_patterns": ("ok", 3)}, "furniture_patterns"),
    (NormalizeConfig, {"furniture_patterns": None}, "furniture_patterns"),
    (NormalizeConfig, {"extra_furniture_patterns": r"subscribe\b"}, "extra_furniture_patterns"),
    (NormalizeConfig, {"extra_furniture_patterns": (b"bytes",)}, "extra_furniture_patterns"),
    (NormalizeConfig, {"extra_furniture_patterns": ("(unclosed",)}, "extra_furniture_patterns"),
    (NormalizeConfig, {"min_line_words": -1}, "min_line_words"),
    (NormalizeConfig, {"min_line_words": 2.5}, "min_line_words"),
    (NormalizeConfig, {"min_line_words": True}, "min_line_words"),
    (NormalizeConfig, {"min_line_words": 2**70}, "min_line_words"),
    # ShingleConfig
    (ShingleConfig, {"k": True}, "k"),
    (ShingleConfig, {"k": "3"}, "k"),
    (ShingleConfig, {"k": 3.0}, "k"),
    (ShingleConfig, {"k": 0}, "k"),
    (ShingleConfig, {"k": 17}, "k"),
    (ShingleConfig, {"passage_k": None}, "passage_k"),
    (ShingleConfig, {"passage_k": 0}, "passage_k"),
    (ShingleConfig, {"min_passage_words": 2}, "min_passage_words"),
    (ShingleConfig, {"min_passage_words": NAN}, "min_passage_words"),
    (ShingleConfig, {"max_passage_words": 5}, "max_passage_words"),
    (ShingleConfig, {"max_passage_words": INF}, "max_passage_words"),
    (ShingleConfig, {"strip_arabic_conjunction": "yes"}, "strip_arabic_conjunction"),
    # MinHashConfig
    (MinHashConfig, {"num_perm": 1}, "num_perm"),
    (MinHashConfig, {"num_perm": 4096}, "num_perm"),
    (MinHashConfig, {"num_perm": 128.0}, "num_perm"),
    (MinHashConfig, {"seed": -1}, "seed"),
    (MinHashConfig, {"seed": 2**70}, "seed"),
    (MinHashConfig, {"seed": 2**32}, "seed"),
    (MinHashConfig, {"seed": "1"}, "seed"),
    (MinHashConfig, {"threshold": 0.0}, "threshold"),
    (MinHashConfig, {"threshold": 1.0}, "threshold"),
    (MinHashConfig, {"threshold": NAN}, "threshold"),
    (MinHashConfig, {"threshold": "0.5"}, "threshold"),
    # PassageConfig
    (PassageConfig, {"num_perm": 0}, "num_perm"),
    (PassageConfig, {"seed": -1}, "seed"),
    (PassageConfig, {"seed": 2**70}, "seed"),
    (PassageConfig, {"threshold": INF}, "threshold"),
    (PassageConfig, {"min_hits": 0}, "min_hits"),
    (PassageConfig, {"min_hits": 2.0}, "min_hits"),
    (PassageConfig, {"max_candidates": INF}, "max_candidates"),
    (PassageConfig, {"max_candidates": 0}, "max_candidates"),
    (PassageConfig, {"max_candidates": False}, "max_candidates"),
    # VerifyConfig
    (VerifyConfig, {"near_identical_jaccard": 0.0}, "near_identical_jaccard"),
    (VerifyConfig, {"near_identical_jaccard": 1.5}, "near_identical_jaccard"),
    (VerifyConfig, {"min_containment": NAN}, "min_containment"),
    (VerifyConfig, {"passage_overlap": -0.1}, "passage_overlap"),
    (VerifyConfig, {"passage_overlap": True}, "passage_overlap"),
    (VerifyConfig, {"min_passage_coverage": INF}, "min_passage_coverage"),
    (VerifyConfig, {"min_shared_passages": 0}, "min_shared_passages"),
    (VerifyConfig, {"min_shared_shingles": 0}, "min_shared_shingles"),
    (VerifyConfig, {"min_shared_shingles": "8"}, "min_shared_shingles"),
    # BoilerplateConfig
    (BoilerplateConfig, {"enabled": None}, "enabled"),
    (BoilerplateConfig, {"min_df": 1}, "min_df"),
    (BoilerplateConfig, {"min_df": 3.5}, "min_df"),
    (BoilerplateConfig, {"min_unique_fraction": 0.0}, "min_unique_fraction"),
    (BoilerplateConfig, {"min_unique_fraction": NAN}, "min_unique_fraction"),
    (BoilerplateConfig, {"sample": 1}, "sample"),
    # ClusterConfig
    (ClusterConfig, {"min_link_fraction": 2.0}, "min_link_fraction"),
    (ClusterConfig, {"min_link_fraction": "half"}, "min_link_fraction"),
    (ClusterConfig, {"max_exact_size": 1}, "max_exact_size"),
    (ClusterConfig, {"max_exact_size": INF}, "max_exact_size"),
    (ClusterConfig, {"complete_up_to": -1}, "complete_up_to"),
    # ProvenanceConfig
    (ProvenanceConfig, {"head_chars": NAN}, "head_chars"),
    (ProvenanceConfig, {"head_chars": -1}, "head_chars"),
    (ProvenanceConfig, {"containment_margin": 1.0}, "containment_margin"),
    (ProvenanceConfig, {"containment_margin": -INF}, "containment_margin"),
    (ProvenanceConfig, {"min_containment": 1.01}, "min_containment"),
    (ProvenanceConfig, {"agencies": "Reuters"}, "agencies"),
    (ProvenanceConfig, {"agencies": (("Reuters", "Reuters"),)}, "agencies"),
    (ProvenanceConfig, {"extra_agencies": (("Kyodo",),)}, "extra_agencies"),
    (ProvenanceConfig, {"extra_agencies": (("Kyodo", ()),)}, "extra_agencies"),
    (ProvenanceConfig, {"extra_agencies": (("Kyodo", ("",)),)}, "extra_agencies"),
    (ProvenanceConfig, {"find_dates_in_text": 0}, "find_dates_in_text"),
    # DedupConfig
    (DedupConfig, {"normalize": {"min_line_words": 3}}, "normalize"),
    (DedupConfig, {"shingle": None}, "shingle"),
    (DedupConfig, {"minhash": PassageConfig()}, "minhash"),
    (DedupConfig, {"provenance": "default"}, "provenance"),
    (DedupConfig, {"max_chars": 0}, "max_chars"),
    (DedupConfig, {"max_chars": INF}, "max_chars"),
    (DedupConfig, {"max_chars": 2**70}, "max_chars"),
]


@pytest.mark.parametrize(("kind", "values", "name"), BAD, ids=lambda x: repr(x)[:40])
def test_a_nonsense_setting_is_refused_with_a_message_naming_it(kind, values, name) -> None:
    with pytest.raises(ConfigError) as caught:
        kind(**values)
    message = str(caught.value)
    assert f"{kind.__name__}.{name}" in message
    if name != "extra_furniture_patterns" or values[name] != ("(unclosed",):
        assert "must be" in message and "got" in message  # what is allowed, and what was given
    assert any(word in message for word in ("use", "pass", "wrap", "as in", "rewrite", "scoped")), message


@pytest.mark.parametrize(
    ("kind", "values"),
    [
        (ShingleConfig, {"k": "3"}),
        (ShingleConfig, {"k": True}),
        (PassageConfig, {"max_candidates": INF}),
        (ProvenanceConfig, {"head_chars": NAN}),
        (NormalizeConfig, {"furniture_patterns": "share"}),
        (DedupConfig, {"verify": {}}),
    ],
)
def test_a_setting_of_the_wrong_type_is_a_type_error_too(kind, values) -> None:
    with pytest.raises(ConfigTypeError) as caught:
        kind(**values)
    assert isinstance(caught.value, TypeError) and isinstance(caught.value, ValueError)


def test_the_message_says_the_range_and_what_to_use() -> None:
    with pytest.raises(ConfigError, match=r"MinHashConfig\.seed must be an integer from 0 to 2\*\*32 - 1; got -1"):
        MinHashConfig(seed=-1)
    with pytest.raises(ConfigError, match=r"such as the default k=3"):
        ShingleConfig(k=True)
    with pytest.raises(ConfigError, match=r"wrap a single one in a tuple"):
        NormalizeConfig(extra_furniture_patterns="read more")
    # a cross-field range suggests the default only where it fits
    with pytest.raises(ConfigError) as caught:
        ShingleConfig(passage_k=10, min_passage_words=8)
    assert "from 10 to" in str(caught.value) and "default" not in str(caught.value)


def test_a_threshold_with_too_few_bands_is_a_config_error() -> None:
    for threshold, num_perm in ((0.99, 4), (0.95, 2)):
        with pytest.raises(ConfigError, match="fewer than 2 LSH bands"):
            MinHashConfig(threshold=threshold, num_perm=num_perm)


def test_valid_settings_keep_working() -> None:
    assert (MinHashConfig().bands, MinHashConfig().rows) == (32, 4)
    passage = PassageConfig(threshold=0.4, num_perm=32)
    assert passage.bands * passage.rows <= 32 and passage.bands >= 2
    assert MinHashConfig(seed=0).seed == 0 and MinHashConfig(seed=2**32 - 1).seed == 2**32 - 1
    assert VerifyConfig(min_containment=1).min_containment == 1
    assert ProvenanceConfig(head_chars=0, containment_margin=0, min_containment=0).head_chars == 0
    # numpy numbers are stored as Python ones (they serialize to JSON), lists as tuples (hashable)
    config = MinHashConfig(seed=np.int64(3), threshold=np.float32(0.5), num_perm=np.int32(64))
    assert type(config.seed) is int and type(config.threshold) is float and type(config.num_perm) is int
    normalize = NormalizeConfig(extra_furniture_patterns=[r"subscribe to\b"])
    assert normalize.extra_furniture_patterns == (r"subscribe to\b",)
    hash(normalize)
    provenance = ProvenanceConfig(extra_agencies=[["Kyodo", ["Kyodo", "كيودو"]]])
    assert provenance.extra_agencies == (("Kyodo", ("Kyodo", "كيودو")),)
    hash(provenance)
    assert NormalizeConfig().furniture_patterns == DEFAULT_FURNITURE_PATTERNS


def test_the_default_furniture_patterns_compile_as_a_given_pattern_is_checked() -> None:
    """The check of the furniture patterns passes over the defaults (compiling them all would hold
    up a process's first config): they compile here, as a pattern a user gives is compiled."""
    import re

    import regex

    for pattern in DEFAULT_FURNITURE_PATTERNS:
        re.compile(f"^(?:{pattern})", re.M)
        regex.compile(f"^(?:{pattern})", regex.M | regex.V0)
    with pytest.raises(ConfigError, match="not a valid regular expression"):
        NormalizeConfig(furniture_patterns=(*DEFAULT_FURNITURE_PATTERNS, "(unclosed"))


def _json_with(path: str, value: object) -> str:
    data = json.loads(config_to_json(DedupConfig()))
    part, name = path.split(".")
    data[part][name] = value
    return json.dumps(data)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("shingle.k", "3"),
        ("shingle.k", 3.5),
        ("minhash.seed", -1),
        ("passage.max_candidates", None),
        ("normalize.extra_furniture_patterns", "subscribe"),
        ("normalize.furniture_patterns", ["(a"]),
        ("provenance.agencies", [["Reuters", "Reuters"]]),
        ("provenance.head_chars", 1e400),
        ("verify.min_containment", [0.5]),
        ("boilerplate.enabled", "true"),
    ],
)
def test_a_corrupt_stored_config_is_a_config_error(path: str, value: object) -> None:
    with pytest.raises(ConfigError, match=path.split(".")[1]):
        config_from_json(_json_with(path, value))


THRESHOLDS = st.sampled_from([0.3, 0.5, 0.7, 0.8])
PATTERNS = st.lists(
    st.sampled_from([r"subscribe to\b", "(read|see) more", r"\d+ comments?$", "(?i:promo)"]), max_size=3
)
SHARE = st.floats(0.0, 1.0)
OPEN_SHARE = st.floats(0.0, 1.0, exclude_min=True)
COUNT = st.integers(0, 2**31 - 1)


def kw(**strategies: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(strategies)


@st.composite
def shingle_settings(draw: st.DrawFn) -> dict[str, object]:
    passage_k = draw(st.integers(1, 16))
    least = draw(st.integers(passage_k, 2**31 - 1))
    return {
        "k": draw(st.integers(1, 16)),
        "passage_k": passage_k,
        "min_passage_words": least,
        "max_passage_words": draw(st.integers(least, 2**31 - 1)),
        "strip_arabic_conjunction": draw(st.booleans()),
    }


# The settings of a DedupConfig, as keyword arguments of its parts (the configs are built in the
# test: building one may draw from ``random``, which hypothesis forbids in a strategy).
SETTINGS = kw(
    normalize=kw(
        drop_furniture=st.booleans(),
        extra_furniture_patterns=PATTERNS.map(tuple),
        min_line_words=COUNT,
    ),
    shingle=shingle_settings(),
    minhash=kw(num_perm=st.sampled_from([64, 128, 256]), seed=st.integers(0, 2**32 - 1), threshold=THRESHOLDS),
    passage=kw(
        num_perm=st.sampled_from([16, 32]),
        seed=st.integers(0, 2**32 - 1),
        threshold=THRESHOLDS,
        min_hits=st.integers(1, 2**31 - 1),
        max_candidates=st.integers(1, 2**31 - 1),
        few_passages=st.integers(0, 2**31 - 1),
    ),
    verify=kw(
        near_identical_jaccard=OPEN_SHARE,
        min_containment=OPEN_SHARE,
        passage_overlap=OPEN_SHARE,
        min_shared_passages=st.integers(1, 2**31 - 1),
        min_passage_coverage=OPEN_SHARE,
        min_shared_shingles=st.integers(1, 2**31 - 1),
    ),
    boilerplate=kw(
        enabled=st.booleans(),
        min_df=st.integers(2, 2**31 - 1),
        min_unique_fraction=OPEN_SHARE,
        sample=st.integers(2, 2**31 - 1),
    ),
    formula=kw(
        enabled=st.booleans(),
        min_per_source=st.integers(2, 255),
        min_repeated=st.integers(0, 255),
        min_containment=OPEN_SHARE,
        sketch_rows=st.integers(1, 8),
        sketch_width_bits=st.integers(4, 30),
    ),
    cluster=kw(
        min_link_fraction=OPEN_SHARE,
        max_exact_size=st.integers(2, 2**31 - 1),
        complete_up_to=COUNT,
        digest_part=OPEN_SHARE,
        digest_share=SHARE,
        digest_same=OPEN_SHARE,
    ),
    provenance=kw(
        head_chars=COUNT,
        containment_margin=st.floats(0.0, 1.0, exclude_max=True),
        min_containment=SHARE,
        extra_agencies=st.lists(
            st.tuples(
                st.text(min_size=1, max_size=8), st.lists(st.text(min_size=1, max_size=8), min_size=1).map(tuple)
            ),
            max_size=2,
        ).map(tuple),
        find_dates_in_text=st.booleans(),
    ),
    max_chars=st.integers(1, 2**31 - 1),
)


@given(SETTINGS)
@settings(max_examples=150, deadline=None)
def test_any_config_in_range_is_built_and_round_trips_through_json(values: dict[str, Any]) -> None:
    parts = {name: kind(**values[name]) for name, kind in PARTS.items()}
    config = DedupConfig(**parts, max_chars=values["max_chars"])
    assert config_from_json(config_to_json(config)) == config


SRC = str(Path(__file__).resolve().parent.parent / "src")


def _run(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter, so that a hang fails the test instead of stalling the run."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"},
        check=False,
    )


def test_a_catastrophic_furniture_pattern_stops_with_an_error_naming_it() -> None:
    result = _run(
        """
        import time
        import dedup
        from dedup.config import DedupConfig, NormalizeConfig
        from dedup.stages.normalize import is_furniture, line_matcher

        bad = "(a|aa)+$"
        line = "a" * 10_000 + "!"
        config = DedupConfig(normalize=NormalizeConfig(extra_furniture_patterns=(bad,), min_line_words=1))
        calls = {
            "line_matcher": lambda: line_matcher((bad, "(read|see) more")).matches(line, 0),
            "is_furniture": lambda: is_furniture("a" * 10_000 + "b", config.normalize),
            "add": lambda: dedup.Deduplicator(config).add(
                dedup.Article(id="x", text="A first line of plain prose here.\\n" + "a" * 10_000 + "b")
            ),
        }
        for name, call in calls.items():
            began = time.perf_counter()
            try:
                call()
                print(name, "no error")
            except dedup.ConfigError as exc:
                took = time.perf_counter() - began
                assert "furniture pattern '(a|aa)+$'" in str(exc) and "rewrite" in str(exc), exc
                print(name, "ConfigError", round(took, 2))
        """
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split("\n")[:3]
    assert [line.split()[:2] for line in lines] == [
        [name, "ConfigError"] for name in ("line_matcher", "is_furniture", "add")
    ]
    assert all(float(line.split()[2]) < 5 for line in lines), result.stdout


def test_a_nested_repetition_pattern_on_a_long_line_completes() -> None:
    """``(a+)+$`` on a long run of a's ends, with an answer or with the error naming the pattern."""
    result = _run(
        """
        import time
        import dedup
        from dedup.stages.normalize import line_matcher

        began = time.perf_counter()
        try:
            print(line_matcher(("(a+)+$",)).matches("a" * 10_000 + "!", 0))
        except dedup.ConfigError as exc:
            assert "'(a+)+$'" in str(exc), exc
            print("ConfigError")
        print(time.perf_counter() - began)
        """
    )
    assert result.returncode == 0, result.stderr
    answer, took = result.stdout.split()
    assert answer in ("False", "ConfigError") and float(took) < 5


def test_the_default_patterns_are_not_cut_short_on_long_lines() -> None:
    from dedup.stages.normalize import line_matcher

    matcher = line_matcher(DEFAULT_FURNITURE_PATTERNS)
    assert not matcher.matches("home " * 20_000 + "x", 0)
    assert matcher.matches("home " * 20_000, 0)
    assert not matcher.matches(" " * 100_000 + "x y z", 0)
    assert matcher.matches("subscribe " + "x " * 100_000 + "newsletter", 0)


def test_the_stored_default_lsh_params_are_datasketchs() -> None:
    from datasketch import MinHashLSH

    from dedup.config import _DEFAULT_LSH_PARAMS

    for (threshold, num_perm), params in _DEFAULT_LSH_PARAMS.items():
        lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        assert (lsh.b, lsh.r) == params
