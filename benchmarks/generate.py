"""Generate a labelled syndication set: wire stories and the copies outlets make of them.

    python benchmarks/generate.py --size 10000 --seed 1 --out generated.jsonl

Originals come first from real article text (the seeds and the labelled example file) and then, for
size, from a synthetic text generator: a Zipf-distributed vocabulary per script (real function words at
the head, made-up content words in the tail) and a topic vocabulary per story, so that stories on one
topic share many words without sharing text. Each original gets copies made the way outlets make them:
truncation after a few paragraphs, dropped and reordered paragraphs, a new lead sentence, re-spelling
(سوريا/سورية, الأمريكية/الأميركية, hamza and ya/alef maqsura, US/UK spelling, case and punctuation), site
furniture at top and bottom (with a long per-site footer), light word substitutions. Hard negatives are
same-topic stories written independently, some quoting the same sentence as the original.

Each line: ``id``, ``text``, ``group`` (true copy group), ``source`` (outlet), ``published_at`` (ISO
8601; left out for about a quarter of the copies and a tenth of the originals) and ``original`` (true
for the article the others were copied from). The same seed gives the same file.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

AR_FUNCTION = (
    "في من على إلى أن التي الذي عن مع هذا هذه كان قال بين بعد قبل ما لا إن كما أو ذلك حيث وقد وفي وأن "
    "الى عند خلال منذ حتى أكثر أيضا لكن ثم كل غير بها له لها تم يوم اليوم العام الرئيس الحكومة وزير"
).split()
EN_FUNCTION = (
    "the of and to a in that is was for on it with as by at from he said his be this are have an "
    "but not they which has had its were would their been who will more after also one two new year"
).split()
# Formulaic phrases every outlet uses: they make unrelated stories share n-grams, as real news does.
AR_STOCK = [
    "وقال في بيان صدر اليوم",
    "حسب ما أفادت وكالة الأنباء الرسمية",
    "في تصريحات للصحفيين",
    "وأكد المتحدث باسم الوزارة",
    "في وقت سابق من هذا الأسبوع",
    "وفقا لمصادر مطلعة",
    "في مؤتمر صحفي عقده",
    "ولم يصدر أي تعليق رسمي",
    "من جهة أخرى",
    "في سياق متصل",
    "وأضاف أن الحكومة",
    "على هامش الاجتماع",
]
EN_STOCK = [
    "said in a statement on",
    "according to a statement from",
    "told reporters on",
    "a spokesman for the ministry said",
    "earlier this week",
    "according to people familiar with the matter",
    "at a news conference",
    "did not immediately respond",
    "on the other hand",
    "in a related development",
    "the government said",
    "on the sidelines of the meeting",
]
AR_LETTERS = list("ابتثجحخدذرزسشصضطظعغفقكلمنهوي")
EN_LETTERS = list("abcdefghijklmnopqrstuvwxyz")

AR_RESPELL = [
    ("سوريا", "سورية"),
    ("الأمريكية", "الأميركية"),
    ("الأمريكي", "الأميركي"),
    ("بشأن", "في شأن"),
    ("المخابرات", "الاستخبارات"),
    ("إلى", "الى"),
    ("أن", "ان"),
    ("الذي", "الذى"),
    ("على", "علي"),
]
EN_RESPELL = [
    ("harbour", "harbor"),
    ("programme", "program"),
    ("centre", "center"),
    ("colour", "color"),
    ("organisation", "organization"),
    ("defence", "defense"),
    ("metres", "meters"),
    ("labour", "labor"),
]
SUBSTITUTE = {
    "said": "told reporters",
    "says": "stated",
    "also": "as well",
    "after": "following",
    "more": "further",
    "قال": "أضاف",
    "أكثر": "أزيد",
    "أيضا": "كذلك",
    "خلال": "أثناء",
    "بعد": "عقب",
}
FURNITURE = {
    "ar": (
        ["الرئيسية | أخبار | اقتصاد | رياضة", "شارك على فيسبوك", "تابعونا على تويتر"],
        [
            "اقرأ أيضا: {headline}",
            "جميع الحقوق محفوظة © {site}",
            "من نحن: {site} صحيفة مستقلة تأسست عام {year} وتصدر "
            "عن مؤسسة {site} للصحافة والنشر وتلتزم بالدقة والحياد في نقل الأخبار إلى قرائها في كل مكان.",
        ],
    ),
    "en": (
        ["Home | News | World | Business", "Share on Facebook", "Share on Twitter"],
        [
            "Read more: {headline}",
            "Copyright {year} {site}. All rights reserved.",
            "About us: {site} is an independent newspaper founded in {year} and owned by its readers, "
            "committed to accurate and fair reporting for the whole region.",
        ],
    ),
}
AGENCIES = {"ar": ["(رويترز) -", "(ا ف ب) -", "- سانا", "(أ ش أ) -"], "en": ["(Reuters) -", "(AP) -", "(AFP) -"]}
AR_MONTHS = [
    "يناير",
    "فبراير",
    "مارس",
    "أبريل",
    "مايو",
    "يونيو",
    "يوليو",
    "أغسطس",
    "سبتمبر",
    "أكتوبر",
    "نوفمبر",
    "ديسمبر",
]
EN_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


class Vocabulary:
    """Words of one script with Zipf-like frequencies: function words first, then made-up words."""

    def __init__(self, lang: str, rng: np.random.Generator, size: int = 30_000) -> None:
        function = AR_FUNCTION if lang == "ar" else EN_FUNCTION
        letters = AR_LETTERS if lang == "ar" else EN_LETTERS
        made: set[str] = set()
        while len(made) < size:
            n = int(rng.integers(3, 9))
            made.add("".join(rng.choice(letters, n)))
        self.words = np.array(function + sorted(made))
        ranks = np.arange(1, len(self.words) + 1, dtype=np.float64)
        weights = 1.0 / ranks**1.07
        self.cdf = np.cumsum(weights) / weights.sum()

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self.words[np.searchsorted(self.cdf, rng.random(n))]


class Generator:
    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.vocab = {lang: Vocabulary(lang, self.rng) for lang in ("ar", "en")}
        self.sites = [f"site{i:03d}" for i in range(60)]
        self.t0 = datetime(2024, 1, 1, tzinfo=UTC)

    # -- text ------------------------------------------------------------------------------------
    def sentence(self, lang: str, topic: np.ndarray) -> str:
        n = int(self.rng.integers(8, 28))
        general = self.vocab[lang].sample(self.rng, n)
        mask = self.rng.random(n) < 0.35
        general[mask] = self.rng.choice(topic, int(mask.sum()))
        words = list(general)
        if self.rng.random() < 0.3:  # a stock phrase
            words.insert(
                int(self.rng.integers(0, len(words))), str(self.rng.choice(AR_STOCK if lang == "ar" else EN_STOCK))
            )
        if self.rng.random() < 0.5:  # a named entity of the topic (several words, shared by its stories)
            words.insert(
                int(self.rng.integers(0, len(words))), " ".join(topic[:3] if self.rng.random() < 0.5 else topic[3:5])
            )
        if lang == "en":
            words[0] = words[0].capitalize()
        return " ".join(words) + "."

    def paragraphs(self, lang: str, topic: np.ndarray, n: int) -> list[str]:
        return [" ".join(self.sentence(lang, topic) for _ in range(int(self.rng.integers(1, 4)))) for _ in range(n)]

    def topic(self, lang: str) -> np.ndarray:
        return self.vocab[lang].words[self.rng.integers(200, len(self.vocab[lang].words), 40)]

    def dateline(self, lang: str, when: datetime) -> str:
        month = (AR_MONTHS if lang == "ar" else EN_MONTHS)[when.month - 1]
        agency = str(self.rng.choice(AGENCIES[lang]))
        if lang == "ar":
            return f"{when.day} {month} {when.year} {agency}"
        return f"CITY, {month} {when.day}, {when.year} {agency}"

    # -- copying -----------------------------------------------------------------------------------
    def respell(self, text: str, lang: str) -> str:
        pairs = AR_RESPELL if lang == "ar" else EN_RESPELL
        for a, b in pairs:
            if self.rng.random() < 0.6:
                text = text.replace(a, b) if self.rng.random() < 0.5 else text.replace(b, a)
        if lang == "ar" and self.rng.random() < 0.5:
            text = text.replace("ى ", "ي ").replace("أ", "ا")
        if lang == "en" and self.rng.random() < 0.3:
            text = text.replace(",", "").replace(" - ", " – ")
        return text

    def substitute(self, paragraph: str, rate: float, topic: np.ndarray) -> str:
        """Light rewording: known synonyms, and a share ``rate`` of words replaced (a paraphrase)."""
        words = paragraph.split(" ")
        for i, w in enumerate(words):
            if w in SUBSTITUTE and self.rng.random() < 0.5:
                words[i] = SUBSTITUTE[w]
            elif self.rng.random() < rate:
                words[i] = str(self.rng.choice(topic))
        return " ".join(words)

    def furniture(self, lang: str, site: str, headline: str) -> tuple[list[str], list[str]]:
        top, bottom = FURNITURE[lang]
        year = 1900 + int(site[-3:]) % 100
        return list(top), [line.format(site=site, headline=headline, year=year) for line in bottom]

    def copy(self, paragraphs: list[str], lang: str, topic: np.ndarray, site: str) -> str:
        body = list(paragraphs[1:])  # the dateline is replaced by the outlet
        ops = self.rng.random(6)
        if ops[0] < 0.45 and len(body) > 2:  # truncation after a few paragraphs
            body = body[: int(self.rng.integers(2, len(body) + 1))]
        if ops[1] < 0.3 and len(body) > 4:  # drop a paragraph
            del body[int(self.rng.integers(1, len(body)))]
        if ops[2] < 0.2 and len(body) > 4:  # reorder two paragraphs
            i = int(self.rng.integers(1, len(body) - 1))
            body[i], body[i + 1] = body[i + 1], body[i]
        if ops[3] < 0.35:  # a new lead sentence
            body.insert(0, self.sentence(lang, topic))
        if ops[4] < 0.5:  # light rewording; one copy in five is paraphrased more heavily
            rate = 0.12 if self.rng.random() < 0.2 else 0.02
            body = [self.substitute(p, rate, topic) for p in body]
        text = "\n\n".join(body)
        if ops[5] < 0.6:
            text = self.respell(text, lang)
        top, bottom = self.furniture(lang, site, self.sentence(lang, self.topic(lang))[:-1])
        if self.rng.random() < 0.7:
            text = "\n".join(top) + "\n\n" + text + "\n\n" + "\n".join(bottom)
        return text

    # -- stories -----------------------------------------------------------------------------------
    def stories(self, real: list[tuple[str, str]]) -> Iterator[tuple[str, list[str], np.ndarray]]:
        for lang, text in real:
            paras = [p.strip() for p in text.split("\n") if p.strip()]
            words = np.array(text.split())
            yield lang, paras, words[self.rng.integers(0, len(words), 40)]
        while True:
            lang = "ar" if self.rng.random() < 0.5 else "en"
            topic = self.topic(lang)
            yield lang, self.paragraphs(lang, topic, int(self.rng.integers(4, 13))), topic

    def records(self, size: int, real: list[tuple[str, str]]) -> Iterator[dict[str, Any]]:
        made = 0
        for number, (lang, paragraphs, topic) in enumerate(self.stories(real)):
            when = self.t0 + timedelta(minutes=int(self.rng.integers(0, 60 * 24 * 365)))
            group = f"g{number:07d}"
            origin_site = str(self.rng.choice(self.sites))
            original = [self.dateline(lang, when), *paragraphs]
            batch = [self._record(f"{group}-0", "\n\n".join(original), group, origin_site, when, True, 0.1)]
            for c in range(int(min(self.rng.poisson(2.5), 12))):
                site = str(self.rng.choice(self.sites))
                delay = timedelta(minutes=int(self.rng.integers(5, 60 * 48)))
                text = self.copy(original, lang, topic, site)
                batch.append(self._record(f"{group}-{c + 1}", text, group, site, when + delay, False, 0.25))
            for h in range(int(self.rng.random() < 0.4) + int(self.rng.random() < 0.2)):
                neg = self.paragraphs(lang, topic, int(self.rng.integers(3, 10)))
                if self.rng.random() < 0.6:  # quotes one to three sentences of the same statement
                    sentences = [x.strip() for p in paragraphs[1:] for x in p.split(". ") if len(x.split()) > 6]
                    for q in range(min(len(sentences), int(self.rng.integers(1, 4)))):
                        quote = sentences[int(self.rng.integers(0, len(sentences)))]
                        neg.insert(min(len(neg), 1 + q), quote if quote.endswith(".") else quote + ".")
                site = str(self.rng.choice(self.sites))
                delay = timedelta(minutes=int(self.rng.integers(-600, 600)))
                batch.append(
                    self._record(f"{group}n{h}", "\n\n".join(neg), f"{group}n{h}", site, when + delay, True, 0.2)
                )
            for record in batch:
                yield record
                made += 1
                if made >= size:
                    return

    def _record(
        self, rid: str, text: str, group: str, site: str, when: datetime, original: bool, p_missing: float
    ) -> dict[str, Any]:
        record: dict[str, Any] = {"id": rid, "text": text, "group": group, "source": site, "original": original}
        if self.rng.random() >= p_missing:
            record["published_at"] = when.isoformat()
        return record


def real_texts() -> list[tuple[str, str]]:
    """Original texts from the seeds and the labelled example file (one per true group)."""
    out: list[tuple[str, str]] = []
    manifest = ROOT / "seeds" / "manifest.jsonl"
    if manifest.exists():
        seen_groups: set[str] = set()
        for line in manifest.read_text(encoding="utf-8").splitlines():
            m = json.loads(line)
            if m.get("copy_group") in seen_groups:
                continue
            seen_groups.add(m.get("copy_group") or m["id"])
            out.append(("ar", (ROOT / "seeds" / m["file"]).read_text(encoding="utf-8")))
    example = ROOT / "benchmarks" / "data" / "labelled_example.jsonl"
    if example.exists():
        groups: set[str] = set()
        for line in example.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            if r["group"] not in groups:
                groups.add(r["group"])
                lang = "ar" if any("\u0600" <= ch <= "\u06ff" for ch in r["text"][:200]) else "en"
                out.append((lang, r["text"]))
    return out


def generate(size: int, seed: int) -> list[dict[str, Any]]:
    """``size`` labelled articles (in a shuffled order, as a crawl would deliver them)."""
    gen = Generator(seed)
    records = list(gen.records(size, real_texts()))
    order = gen.rng.permutation(len(records))
    return [records[i] for i in order]


def syndicated(copies: int, seed: int) -> list[dict[str, Any]]:
    """One wire story and ``copies`` outlet copies of it (trimmed, re-spelled, re-led, wrapped in
    site furniture), published over two days and delivered in a shuffled order: the heavy
    syndication a crawler meets for every big story."""
    gen = Generator(seed)
    lang, paragraphs, topic = next(gen.stories([]))
    when = gen.t0
    original = [gen.dateline(lang, when), *paragraphs]
    records = [gen._record("s-0", "\n\n".join(original), "s", "wire", when, True, 0.0)]
    for c in range(copies):
        site = f"outlet{c:05d}"
        delay = timedelta(minutes=int(gen.rng.integers(5, 60 * 48)))
        text = gen.copy(original, lang, topic, site)
        records.append(gen._record(f"s-{c + 1}", text, "s", site, when + delay, False, 0.25))
    order = gen.rng.permutation(len(records))
    return [records[i] for i in order]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1000, help="number of articles (1,000 to 1,000,000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (the same seed gives the same file)")
    parser.add_argument("--out", default="-", help="output JSON Lines file (default: standard output)")
    args = parser.parse_args(argv)
    if not 1 <= args.size <= 10_000_000:
        parser.error("--size must be between 1 and 10,000,000")
    out = sys.stdout if args.out == "-" else open(args.out, "w", encoding="utf-8")  # noqa: SIM115
    try:
        for record in generate(args.size, args.seed):
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
