"""The worker processes of dedup.cluster and of Deduplicator.add_many, as a plain script meets them."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

TEXT = "The council voted on Tuesday to extend the harbour tram line to the northern suburbs, the mayor said."


def _script(tmp_path: Path, body: str) -> subprocess.CompletedProcess[str]:
    with (tmp_path / "a.jsonl").open("w") as f:
        for i in range(12):
            f.write(json.dumps({"id": f"a{i}", "text": TEXT}) + "\n")
    (tmp_path / "script.py").write_text(textwrap.dedent(body))
    return subprocess.run(
        [sys.executable, "script.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False
    )


def test_workers_from_a_script_without_the_main_guard_say_how_to_fix_it(tmp_path: Path) -> None:
    done = _script(tmp_path, 'import dedup\nprint(len(dedup.cluster("a.jsonl", workers=2)))\n')
    assert done.returncode != 0
    assert "DedupError" in done.stderr
    assert 'if __name__ == "__main__":' in done.stderr
    assert "bootstrapping phase" not in done.stderr  # multiprocessing's own, unhelpful message


def test_add_many_workers_from_a_script_without_the_main_guard_say_how_to_fix_it(tmp_path: Path) -> None:
    done = _script(
        tmp_path,
        """
        import json
        import dedup

        articles = [dedup.Article(**json.loads(line)) for line in open("a.jsonl")]
        dedup.Deduplicator().add_many(articles, workers=2)
        """,
    )
    assert done.returncode != 0
    assert "DedupError" in done.stderr
    assert "add_many(..., workers=N)" in done.stderr and 'if __name__ == "__main__":' in done.stderr
    assert "bootstrapping phase" not in done.stderr


def test_workers_from_a_guarded_script_cluster(tmp_path: Path) -> None:
    done = _script(
        tmp_path,
        """
        import dedup

        if __name__ == "__main__":
            print([len(c) for c in dedup.cluster("a.jsonl", workers=2)])
        """,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[12]"
