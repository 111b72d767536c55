import dedup


def test_public_names_are_exported_and_sorted() -> None:
    assert dedup.__all__ == sorted(dedup.__all__)
    for name in dedup.__all__:
        assert hasattr(dedup, name), name
    public = {n for n in dir(dedup) if not n.startswith("_") and n[0].isupper()}
    assert public <= set(dedup.__all__)


def test_error_tree() -> None:
    assert issubclass(dedup.ConfigError, ValueError) and issubclass(dedup.ConfigError, dedup.DedupError)
    assert issubclass(dedup.TextTypeError, TypeError) and issubclass(dedup.TextTypeError, dedup.InputError)
    assert issubclass(dedup.UnknownArticleError, KeyError)
    assert issubclass(dedup.MissingExtraError, ImportError)


def test_records_are_frozen() -> None:
    article = dedup.Article(id="a", text="t")
    try:
        article.text = "u"  # type: ignore[misc]
    except AttributeError:
        pass
    else:
        raise AssertionError("Article must be frozen")
    assert not hasattr(article, "__dict__")  # slots


def test_a_match_without_passages_keeps_every_other_field() -> None:
    from dataclasses import fields, replace

    values = {f.name: f"v{i}" for i, f in enumerate(fields(dedup.Match))}  # each field its own value
    values["shared_passages"] = (dedup.SharedPassage(0, 1, 0.9, "x"),)
    match = dedup.Match(**values)
    assert match.without_passages() == replace(match, shared_passages=())


def test_passages_listed_at_once_equal_those_built_one_by_one() -> None:
    texts = ["zero", "one", "two"]
    many = dedup.SharedPassage.many([2, 0], [1, 1], [0.5, 1.0], texts.__getitem__)
    assert many == [dedup.SharedPassage(2, 1, 0.5, "two"), dedup.SharedPassage(0, 1, 1.0, "zero")]
    assert [p.to_dict() for p in many] == [
        p.to_dict() for p in (dedup.SharedPassage(2, 1, 0.5, "two"), dedup.SharedPassage(0, 1, 1.0, "zero"))
    ]
