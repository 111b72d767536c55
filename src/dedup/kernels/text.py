"""The text kernels: raw text to words, shingles and signatures, a batch of texts per call, without
a Python object per word.

``fold_split_many`` folds, splits and hashes the code points of many texts in compiled loops: it
reads the fold table and character classes of ``normalize.fold_table`` and reproduces, character
for character, what the regular-expression path ``shingle.tokens`` does (a hypothesis test compares
them on random text). ``shingle_many`` then cuts each text's words into sentences, passages and
shingles and signs them (``minhash_into``: datasketch's "affine32" MinHash, as
``sign.reference_signature`` computes it through datasketch itself); ``signatures_many`` signs the
documents alone. ``shingle_ids`` and ``kept_shingles`` serve the reference path and the verifier,
``sentence_keys`` boilerplate learning.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from dedup.errors import KernelInputError
from dedup.kernels import jit
from dedup.kernels.arrays import grow, insertion_sort, sorted_distinct
from dedup.kernels.hashing import FMIX32_C1, FMIX32_C2, FNV_OFFSET, FNV_PRIME, MARK, fmix64, word_hash

U32 = npt.NDArray[np.uint32]
I64 = npt.NDArray[np.int64]

# The character classes of ``normalize.fold_table``, one bit each: a word character (``\w``), a
# space (``\s``), a letter (``[^\W\d_]``), a sentence end, a closing quote or bracket, and a word
# character that is a word of its own (``normalize.SOLO_RANGES``), and a quotation mark
# (``normalize.QUOTE_MARKS``, ``OPEN_SINGLE``, ``CLOSE_SINGLE``).
WORD, SPACE, LETTER, SENTENCE_END, CLOSING, SOLO, QUOTE = 1, 2, 4, 8, 16, 32, 64
# A quotation of fewer words is a name or a term set in quotes ("the «Vision 2030» plan"), not
# quoted speech.
QUOTE_MIN_WORDS = 5
# Single quotation marks, as British papers print quoted speech: ‘ before a letter opens a
# quotation, ’ closes it where no letter or digit follows (within a word, as in "don’t", it is an
# apostrophe; "‘80s" is one too).
OPEN_SINGLE, CLOSE_SINGLE = 0x2018, 0x2019
FULL_STOP = 0x3002  # the ideographic full stop ends a sentence with or without a space after it


@jit
def minhash_into(values: U32, offsets: I64, a: U32, b: U32, out: U32) -> None:
    """For each set ``values[offsets[d]:offsets[d+1]]``, the MinHash signature into ``out[d]``."""
    n_perm = a.shape[0]
    if out.shape[0] < offsets.shape[0] - 1 or out.shape[1] < n_perm or b.shape[0] < n_perm:
        raise KernelInputError("minhash: one output row per set and one column per permutation are expected")
    for d in range(offsets.shape[0] - 1):
        if offsets[d] < 0 or offsets[d] > offsets[d + 1] or offsets[d + 1] > values.shape[0]:
            raise KernelInputError("minhash: offsets must rise within the values")
    mask = np.uint64(0xFFFFFFFF)
    for d in range(offsets.shape[0] - 1):
        row = out[d]
        for p in range(n_perm):
            row[p] = np.uint32(0xFFFFFFFF)
        for i in range(offsets[d], offsets[d + 1]):
            h = np.uint64(values[i])
            h ^= h >> np.uint64(16)
            h = (h * np.uint64(FMIX32_C1)) & mask
            h ^= h >> np.uint64(13)
            h = (h * np.uint64(FMIX32_C2)) & mask
            h ^= h >> np.uint64(16)
            h32 = np.uint32(h)
            for p in range(n_perm):
                v = np.uint32(a[p] * h32 + b[p])
                if v < row[p]:
                    row[p] = v


@jit
def _grams(words: Any, k: int, multipliers: Any) -> Any:
    n = words.shape[0]
    if n == 0:
        return np.empty(0, dtype=np.uint64)
    k = min(k, n)
    m = n - k + 1
    out = np.empty(m, dtype=np.uint64)
    for i in range(m):
        acc = np.uint64(0)
        for j in range(k):
            acc += words[i + j] * multipliers[j]
        out[i] = fmix64(acc)
    return out


@jit
def sentence_keys(words: Any, starts: Any, k: int, multipliers: Any) -> Any:
    """Each sentence's near key: the least of its word k-gram hashes (``_grams`` over the sentence
    alone; a sentence shorter than ``k`` words has one gram of all its words)."""
    n_sent = max(starts.shape[0] - 1, 0)
    out = np.empty(n_sent, dtype=np.uint64)
    for s in range(n_sent):
        out[s] = _grams(words[starts[s] : starts[s + 1]], k, multipliers).min()
    return out


@jit
def shingle_ids(ids: Any, hashes: Any, k: int, pk: int, min_pw: int, max_pw: int, multipliers: Any, salt: Any) -> Any:
    """Everything ``shingle.analyze`` computes from the word ids (id 0: a sentence mark), in one
    compiled pass: the words, sentence starts and fingerprints, passages, passage shingles and
    document shingles. Equal, bit for bit, to the numpy code in ``shingle`` (a hypothesis test)."""
    n_tok = ids.shape[0]
    words = np.empty(n_tok, dtype=np.uint64)
    starts = np.empty(n_tok + 2, dtype=np.int64)
    starts[0] = 0
    ns, nw = 1, 0
    for t in range(n_tok):
        i = ids[t]
        if i == 0:
            if nw > starts[ns - 1]:
                starts[ns] = nw
                ns += 1
        else:
            words[nw] = hashes[i]
            nw += 1
    if nw > starts[ns - 1]:
        starts[ns] = nw
        ns += 1
    # copies, not views: a view would keep the whole token-sized buffer alive with the article
    return _shingle_words(words[:nw].copy(), starts[:ns].copy(), k, pk, min_pw, max_pw, multipliers, salt)


@jit
def _shingle_words(
    words: Any, starts: Any, k: int, pk: int, min_pw: int, max_pw: int, multipliers: Any, salt: Any
) -> Any:
    """From the word hashes and sentence starts: sentence fingerprints, passages, passage shingles
    and document shingles (the tuple ``Shingled`` is built from)."""
    nw = words.shape[0]
    ns = starts.shape[0]
    n_sent = ns - 1
    # sentence fingerprints
    fps = np.empty(max(n_sent, 0), dtype=np.uint64)
    for s in range(n_sent):
        total = np.uint64(0)
        for j in range(starts[s], starts[s + 1]):
            total += fmix64(words[j] + np.uint64(j - starts[s]) * salt)
        fps[s] = fmix64(total ^ np.uint64(starts[s + 1] - starts[s]))
    grams = _grams(words, k, multipliers)
    # passages: sentences long enough, cut in even pieces of at most max_pw words
    n_pass = 0
    for s in range(n_sent):
        length = starts[s + 1] - starts[s]
        if length >= min_pw:
            n_pass += (length + max_pw - 1) // max_pw
    passages = np.empty((n_pass, 2), dtype=np.int64)
    owners = np.empty(n_pass, dtype=np.int64)
    p = 0
    for s in range(n_sent):
        length = starts[s + 1] - starts[s]
        if length >= min_pw:
            pieces = (length + max_pw - 1) // max_pw
            for j in range(pieces):
                passages[p, 0] = starts[s] + length * j // pieces
                passages[p, 1] = starts[s] + length * (j + 1) // pieces
                owners[p] = s
                p += 1
    pgrams = grams if pk == min(k, nw) else _grams(words, pk, multipliers)
    total_p = 0
    for p in range(n_pass):
        total_p += max(passages[p, 1] - passages[p, 0] - pk + 1, 0)
    values = np.empty(total_p, dtype=np.uint64)
    offsets = np.zeros(n_pass + 1, dtype=np.int64)
    v = 0
    for p in range(n_pass):
        # each passage's few dozen shingles sorted where they land, then their repeats dropped
        count = max(passages[p, 1] - passages[p, 0] - pk + 1, 0)
        values[v : v + count] = pgrams[passages[p, 0] : passages[p, 0] + count]
        insertion_sort(values, v, v + count)
        u = v
        for j in range(v, v + count):
            if j == v or values[j] != values[u - 1]:
                values[u] = values[j]
                u += 1
        v = u
        offsets[p + 1] = v
    values = values[:v].copy()
    return words, starts, fps, passages, owners, values, offsets, sorted_distinct(grams)


@jit
def _class_of(classes: Any, c: Any) -> Any:
    # characters beyond the BMP reach the kernel already folded: letters (``shingle`` turns the
    # others into "#")
    if c >= 0x10000:
        # Han extensions B and beyond are words of their own, as in ``normalize.SOLO_RANGES``
        return (WORD | LETTER | SOLO) if 0x20000 <= c <= 0x3FFFF else (WORD | LETTER)
    return classes[c]


@jit
def _is_abbreviation(f: Any, start: int, end: int, abbr_data: Any, abbr_off: Any) -> bool:
    n = end - start
    for a in range(abbr_off.shape[0] - 1):
        if abbr_off[a + 1] - abbr_off[a] != n:
            continue
        same = True
        for j in range(n):
            if f[start + j] != abbr_data[abbr_off[a] + j]:
                same = False
                break
        if same:
            return True
    return False


@jit
def _fold_into(cps: Any, fold_off: Any, fold_data: Any, f: Any) -> int:
    """The fold of the code points ``cps`` written into ``f`` (``\\r\\n`` as one line break): how
    many code points it took, or -1 when ``f`` is too short."""
    n, m, room = cps.shape[0], 0, f.shape[0]
    for i in range(n):
        c = cps[i]
        if c == 13 and i + 1 < n and cps[i + 1] == 10:
            continue  # \r\n is one line break
        if c < 0x10000:
            first, last = fold_off[c], fold_off[c + 1]
            if m + last - first > room:
                return -1
            for j in range(first, last):
                f[m] = fold_data[j]
                m += 1
        else:
            if m == room:
                return -1
            f[m] = c
            m += 1
    return m


@jit
def _sentence_ends(f: Any, i: int, m: int, classes: Any, abbr_data: Any, abbr_off: Any) -> bool:
    """Whether the sentence-end character ``f[i]`` ends a sentence: closing characters may follow
    it, then a space or the end of the text (the ideographic full stop needs neither); a period
    after a single letter or a known abbreviation ends nothing."""
    c = f[i]
    j = i + 1
    while j < m and _class_of(classes, f[j]) & CLOSING:
        j += 1
    if not (j == m or (_class_of(classes, f[j]) & SPACE) != 0 or c == FULL_STOP):
        return False
    if c != 46:
        return True
    r = i
    while r > 0 and _class_of(classes, f[r - 1]) & WORD:
        r -= 1
    if i - r == 1 and _class_of(classes, f[r]) & LETTER:
        return False
    return not (i - r > 1 and _is_abbreviation(f, r, i, abbr_data, abbr_off))


@jit
def _split_text(
    f: Any, m: int, classes: Any, abbr_data: Any, abbr_off: Any, strip_conjunction: bool, out: Any, o: int,
    line_starts: Any, line_first: Any, counts: Any, nl: int, hashes: Any, marks: Any, quoted: Any, nh: int,
) -> Any:  # fmt: skip
    """Split the folded text ``f[:m]`` and mark its sentence ends, as ``shingle.tokens`` does
    before it drops furniture lines, hashing the words on the way, into buffers the caller made
    room in (``3 * m + 1`` code points, ``m + 2`` lines, ``m + 1`` words): the spaced text at
    ``out[o:]`` (punctuation became spaces, each sentence end " MARK "); for each line, from
    ``nl``, where it starts in the spaced text and where its words start among the text's words,
    plus one entry past the end, and in ``counts`` (from 0) its number of words; the words'
    hashes (as ``shingle.word_hash``; each character of a script written without spaces a word of
    its own; an Arabic conjunction و dropped from the front of a word of four Arabic letters or
    more when asked) and whether a sentence mark stands between each word and the one before it
    on its line, and whether it lies in quoted speech (``_quotation_mark``), from ``nh``. Returns the
    new ends of the three."""
    o0, nh0 = o, nh
    line_starts[nl] = 0
    line_first[nl] = 0
    li, words, marked = 1, 0, False
    opened = -1  # the first word of the quotation open on this line (-1: none is)
    single = False  # whether it opened with a single quotation mark
    offset, prime = np.uint64(FNV_OFFSET), np.uint64(FNV_PRIME)
    i = 0
    while i < m:
        c = f[i]
        cl = _class_of(classes, c)
        if (cl & (WORD | SPACE | SOLO)) == WORD and c != 95:
            # a word, read to its end by a loop of its own: with few values live, they stay in
            # registers
            start = o
            h = offset
            while True:
                h = (h ^ np.uint64(c)) * prime
                out[o] = c
                o += 1
                i += 1
                if i == m:
                    break
                c = f[i]
                cl = _class_of(classes, c)
                if (cl & (WORD | SPACE | SOLO)) != WORD or c == 95:
                    break
            if strip_conjunction and o - start >= 4 and out[start] == 0x0648:
                hashes[nh] = _out_word_hash(out, start, o, True)
            else:
                hashes[nh] = fmix64(h)
            marks[nh] = marked
            quoted[nh] = False
            nh += 1
            marked = False
            words += 1
            continue
        if cl & SPACE:
            out[o] = c
        elif (cl & (WORD | SOLO)) == (WORD | SOLO) and c != 95:
            out[o] = c
            hashes[nh] = fmix64((offset ^ np.uint64(c)) * prime)
            marks[nh] = marked
            quoted[nh] = False
            nh += 1
            marked = False
            words += 1
        else:
            # punctuation is a space; a sentence end is one, then the mark (sentence ends are
            # never word or space characters)
            out[o] = 32
            if cl & QUOTE:
                opened, single = _quotation_mark(f, i, m, classes, opened, single, quoted, nh)
            if cl & SENTENCE_END and _sentence_ends(f, i, m, classes, abbr_data, abbr_off):
                out[o + 1] = MARK
                out[o + 2] = 32
                o += 2
                marked = True
        o += 1
        i += 1
        if c == 10:
            opened = -1  # a quotation left open at the end of its line is not read
            counts[li - 1] = words
            line_starts[nl + li] = o - o0
            line_first[nl + li] = nh - nh0
            li += 1
            words = 0
            marked = False
    counts[li - 1] = words
    line_starts[nl + li] = o - o0 + 1
    line_first[nl + li] = nh - nh0
    return o, nl + li + 1, nh


@jit
def _quotation_mark(f: Any, i: int, m: int, classes: Any, opened: int, single: bool, quoted: Any, nh: int) -> Any:
    """The quotation mark ``f[i]`` read (``shingle.quoted_words``), the words before it being
    ``nh``: it opens a quotation (its first word ``nh``) or closes the open one, setting its words
    as quoted speech when they are ``QUOTE_MIN_WORDS`` or more. Returns the quotation open after it
    (-1: none) and whether that one opened with a single mark. A word character here is one of a
    script written with spaces (the characters of Chinese or Japanese touch their quotation marks),
    and a mark just after a sentence end closes whatever follows it."""
    before = _class_of(classes, f[i - 1]) if i > 0 else 0
    after = _class_of(classes, f[i + 1]) if i + 1 < m else 0
    word_before = (before & (WORD | SOLO)) == WORD
    closes = (before & SENTENCE_END) != 0 or (after & (WORD | SOLO)) != WORD
    c = f[i]
    if c == OPEN_SINGLE:
        if opened < 0 and not word_before and (after & LETTER) != 0:
            return nh, True
    elif c == CLOSE_SINGLE:
        if opened >= 0 and single and closes:
            _set_quoted(quoted, opened, nh)
            return -1, False
    elif opened < 0:
        if not word_before:
            return nh, False
    elif not single and closes:
        _set_quoted(quoted, opened, nh)
        return -1, False
    return opened, single


@jit
def _set_quoted(quoted: Any, first: int, end: int) -> None:
    """The words ``first:end`` of a closed quotation set as quoted speech, when they are
    ``QUOTE_MIN_WORDS`` or more."""
    if end - first >= QUOTE_MIN_WORDS:
        for w in range(first, end):
            quoted[w] = True


@jit
def _out_word_hash(out: Any, first: int, end: int, strip_conjunction: bool) -> Any:
    """The hash of the word ``out[first:end]``, its Arabic conjunction و left out when asked and it
    stands before three Arabic letters."""
    if strip_conjunction and out[first] == 0x0648 and end - first >= 4:
        arabic = True
        for q in range(first + 1, first + 4):
            if out[q] < 0x0621 or out[q] > 0x064A:
                arabic = False
        if arabic:
            first += 1
    return word_hash(out, first, end)


@jit
def _kept_words(hashes: Any, marks: Any, quoted: Any, gone: Any, line_first_word: Any, flags: Any) -> Any:
    """The words of the lines not dropped (flag bit 1) that are not dropped themselves (``gone``:
    the words of a sentence dropped as furniture), where each sentence starts among them (plus
    one past the end): at each kept line and after each sentence mark (never an empty sentence),
    and whether each of them is quoted speech."""
    words = np.empty(hashes.shape[0], dtype=np.uint64)
    in_quotes = np.empty(hashes.shape[0], dtype=np.bool_)
    starts = np.empty(hashes.shape[0] + 2, dtype=np.int64)
    starts[0] = 0
    ns, nw = 1, 0
    for li in range(line_first_word.shape[0] - 1):
        if flags[li] & 1:
            continue
        if nw > starts[ns - 1]:
            starts[ns] = nw
            ns += 1
        for w in range(line_first_word[li], line_first_word[li + 1]):
            if gone[w]:
                continue
            if marks[w] and nw > starts[ns - 1]:
                starts[ns] = nw
                ns += 1
            words[nw] = hashes[w]
            in_quotes[nw] = quoted[w]
            nw += 1
    if nw > starts[ns - 1]:
        starts[ns] = nw
        ns += 1
    return words[:nw].copy(), starts[:ns].copy(), in_quotes[:nw].copy()


@jit
def _shingle_and_sign(
    words: Any, starts: Any, k: int, pk: int, min_pw: int, max_pw: int, multipliers: Any, salt: Any,
    doc_a: Any, doc_b: Any, passage_a: Any, passage_b: Any,
) -> Any:  # fmt: skip
    """``_shingle_words``, with the MinHash signatures of the document and of each passage
    (``sign.signatures_flat``'s) after it (no permutations: signatures of width 0)."""
    out = _shingle_words(words, starts, k, pk, min_pw, max_pw, multipliers, salt)
    shingles, passage_shingles, passage_offsets = out[7], out[5], out[6]
    whole = np.zeros(2, dtype=np.int64)
    whole[1] = shingles.shape[0]
    doc_sig = np.empty((1, doc_a.shape[0]), dtype=np.uint32)
    minhash_into(_top32(shingles), whole, doc_a, doc_b, doc_sig)
    passage_sigs = np.empty((passage_offsets.shape[0] - 1, passage_a.shape[0]), dtype=np.uint32)
    minhash_into(_top32(passage_shingles), passage_offsets, passage_a, passage_b, passage_sigs)
    return out, doc_sig[0], passage_sigs


@jit
def _starts_with(spaced: Any, i: int, end: int, data: Any, first: int, last: int, classes: Any) -> bool:
    """Whether ``spaced[i:end]`` starts with the prefix ``data[first:last]`` (``normalize.LinePrefilter``:
    code points, a sentence mark read as the space it is in the matched text, -1 for a digit)."""
    if end - i < last - first:
        return False
    for q in range(first, last):
        c = spaced[i + q - first]
        atom = data[q]
        if atom == -1:
            # a digit: a word character that is neither a letter nor "_" (``\d`` inside ``\w``);
            # beyond the BMP the class is not known here, so the line is tried
            if c < 0x10000 and ((classes[c] & (WORD | LETTER)) != WORD or c == 95):
                return False
        elif atom != (32 if c == MARK else c):
            return False
    return True


@jit
def _line_flags(counts: Any, min_words: int, flags: Any) -> None:
    """The flag of each line of a spaced text (``counts``: its words) into ``flags``: 1 when it is
    too short to be prose (dropped), 0 otherwise, and in the entry past the end."""
    n_lines = counts.shape[0]
    flags[n_lines] = 0
    for li in range(n_lines):
        flags[li] = 1 if counts[li] < min_words else 0


@jit
def _count_words(spaced: Any, i: int, end: int, classes: Any) -> int:
    """The words of ``spaced[i:end]`` (a piece of a spaced text: words, spaces and sentence marks),
    counted as ``_split_text`` cuts them: a run of word characters, or one that is a word of its own."""
    n = 0
    inside = False
    for j in range(i, end):
        c = spaced[j]
        cl = 0 if c == MARK else _class_of(classes, c)
        if cl & SOLO:
            n += 1
            inside = False
        elif cl & WORD:
            if not inside:
                n += 1
            inside = True
        else:
            inside = False
    return n


@jit
def _could_match(
    spaced: Any, i: int, end: int, classes: Any, always: bool, pre_data: Any, pre_off: Any, pre_first: Any
) -> bool:
    """Whether ``spaced[i:end]`` starts with one of the furniture patterns' prefixes, or some
    pattern has none (``always``)."""
    if always:
        return True
    c = spaced[i]
    # the prefixes come sorted, so those that start with c are one run (found by bisection), and
    # those that start with a digit the run of -1 at the front
    runs = ((np.searchsorted(pre_first, c), np.searchsorted(pre_first, c, side="right")),
            (0, np.searchsorted(pre_first, -1, side="right")))  # fmt: skip
    for first, last in runs:
        for p in range(first, last):
            if _starts_with(spaced, i, end, pre_data, pre_off[p], pre_off[p + 1], classes):
                return True
    return False


@jit
def _segments_to_try(
    spaced: Any, line_starts: Any, line_first: Any, flags: Any, classes: Any, always: bool, pre_data: Any,
    pre_off: Any, pre_first: Any, base: int, word_base: int, tried: Any, nt: int,
) -> Any:  # fmt: skip
    """Append to ``tried`` (from row ``nt``, grown when full) the segments of the lines kept so far
    (flag 0) that a furniture pattern could match (``normalize.furniture_segments``: a line cut at
    its sentence marks): for each, where it starts (its leading spaces skipped) and ends in the
    spaced texts (``base``: where this text's starts), its first word among the batch's words
    (``word_base``: this text's first) and its number of words. Returns ``tried`` and its new end."""
    for li in range(flags.shape[0] - 1):
        if flags[li]:
            continue
        i, end = line_starts[li], line_starts[li + 1] - 1
        word = line_first[li]
        while i < end:
            # one segment: from here to the next sentence mark or the line's end
            stop = i
            while stop < end and spaced[stop] != MARK:
                stop += 1
            start = i
            while start < stop and spaced[start] == 32:
                start += 1
            n = _count_words(spaced, i, stop, classes)
            if start < stop and _could_match(spaced, start, stop, classes, always, pre_data, pre_off, pre_first):
                if nt == tried.shape[0]:
                    grown = np.empty((2 * nt + 16, 5), dtype=np.int64)
                    grown[:nt] = tried[:nt]
                    tried = grown
                tried[nt, 0], tried[nt, 1], tried[nt, 2] = li, base + start, base + stop
                tried[nt, 3], tried[nt, 4] = word_base + word, n
                nt += 1
            word += n
            i = stop + 1
    return tried, nt


@jit
def _append(buffer: Any, n: int, values: Any) -> Any:
    """``values`` written at ``buffer[n:]``, the buffer doubled when full; the buffer and the new end."""
    m = n + values.shape[0]
    buffer = _reserve(buffer, n, values.shape[0])
    buffer[n:m] = values
    return buffer, m


@jit
def _reserve(buffer: Any, n: int, room: int) -> Any:
    """``buffer`` (its first ``n`` values kept), doubled until it has ``room`` more after them."""
    while n + room > buffer.shape[0]:
        buffer = grow(buffer, n)
    return buffer


@jit
def _folded_length(cps: Any, fold_off: Any) -> int:
    total = 0
    for i in range(cps.shape[0]):
        c = cps[i]
        total += fold_off[c + 1] - fold_off[c] if c < 0x10000 else 1
    return total


@jit
def fold_split_many(
    cps: Any, text_off: Any, fold_off: Any, fold_data: Any, classes: Any, abbr_data: Any, abbr_off: Any,
    strip_conjunction: bool, min_words: int, furniture: bool, always: bool, pre_data: Any, pre_off: Any,
    pre_first: Any,
) -> Any:  # fmt: skip
    """Fold, split (``_split_text``) and flag the lines (``_line_flags``) of the texts
    ``cps[text_off[t]:text_off[t + 1]]``, one after the other, laid end to end: the spaced texts
    (text ``t``'s from ``offsets[0, t]``); its lines (from ``offsets[1, t]``, one more entry than
    lines), each with where it starts in its spaced text and where its words start among its
    text's words (``lines[0]`` and ``lines[1]``) and a flag (1: dropped as too short; 0 for the
    extra entry); its words' hashes, marks and quoted-speech flags (from ``offsets[2, t]``); and the segments to be
    tried by the furniture patterns (``_segments_to_try``: a row each). One call for a batch, with few arrays in and out (a call into compiled
    code has a cost of its own, and so has each array it returns); every text is written straight
    into the batch's buffers."""
    n_texts = text_off.shape[0] - 1
    total = cps.shape[0]
    longest = 0
    for t in range(n_texts):
        longest = max(longest, text_off[t + 1] - text_off[t])
    # most characters fold to one: room for a few that fold to more (the exact size is counted
    # when they are many), and for the spaced text's sentence marks
    f = np.empty(longest + longest // 8 + 32, dtype=np.uint32)
    counts = np.empty(f.shape[0] + 1, dtype=np.int64)
    spaced_all = np.empty(total + total // 8 + 2 * longest + 64, dtype=np.uint32)
    starts_all = np.empty(total // 32 + 2 * n_texts + longest + 16, dtype=np.int64)
    first_all = np.empty(starts_all.shape[0], dtype=np.int64)
    flags_all = np.empty(starts_all.shape[0], dtype=np.uint8)
    words_all = np.empty(total // 5 + longest + 16, dtype=np.uint64)
    marks_all = np.empty(words_all.shape[0], dtype=np.bool_)
    quoted_all = np.empty(words_all.shape[0], dtype=np.bool_)
    offsets = np.zeros((3, n_texts + 1), dtype=np.int64)
    tried = np.empty((n_texts + 16, 5), dtype=np.int64)
    ns, nl, nw, nt = 0, 0, 0, 0
    for t in range(n_texts):
        piece = cps[text_off[t] : text_off[t + 1]]
        m = _fold_into(piece, fold_off, fold_data, f)
        if m < 0:
            f = np.empty(_folded_length(piece, fold_off), dtype=np.uint32)
            counts = np.empty(f.shape[0] + 1, dtype=np.int64)
            m = _fold_into(piece, fold_off, fold_data, f)
        spaced_all = _reserve(spaced_all, ns, 3 * m + 1)
        starts_all = _reserve(starts_all, nl, m + 2)
        first_all = _reserve(first_all, nl, m + 2)
        flags_all = _reserve(flags_all, nl, m + 2)
        words_all = _reserve(words_all, nw, m + 1)
        marks_all = _reserve(marks_all, nw, m + 1)
        quoted_all = _reserve(quoted_all, nw, m + 1)
        ns1, nl1, nw1 = _split_text(
            f, m, classes, abbr_data, abbr_off, strip_conjunction, spaced_all, ns, starts_all, first_all, counts,
            nl, words_all, marks_all, quoted_all, nw,
        )  # fmt: skip
        _line_flags(counts[: nl1 - nl - 1], min_words, flags_all[nl:nl1])
        if furniture:
            tried, nt = _segments_to_try(
                spaced_all[ns:ns1], starts_all[nl:nl1], first_all[nl:nl1], flags_all[nl:nl1], classes, always,
                pre_data, pre_off, pre_first, ns, nw, tried, nt,
            )  # fmt: skip
        ns, nl, nw = ns1, nl1, nw1
        offsets[0, t + 1], offsets[1, t + 1], offsets[2, t + 1] = ns, nl, nw
    lines = np.empty((2, nl), dtype=np.int64)
    lines[0] = starts_all[:nl]
    lines[1] = first_all[:nl]
    return spaced_all[:ns], lines, flags_all[:nl], words_all[:nw], marks_all[:nw], quoted_all[:nw], offsets, tried[:nt]


@jit
def _text_words(
    t: int, words_all: Any, marks_all: Any, quoted_all: Any, gone_all: Any, lines: Any, flags_all: Any, offsets: Any
) -> Any:
    """Text ``t`` of a ``fold_split_many`` batch: the words of its lines not dropped, but those
    ``gone_all`` drops, its sentence starts and its quoted words (``_kept_words``)."""
    first, last = offsets[1, t], offsets[1, t + 1]
    w0, w1 = offsets[2, t], offsets[2, t + 1]
    return _kept_words(
        words_all[w0:w1], marks_all[w0:w1], quoted_all[w0:w1], gone_all[w0:w1], lines[1, first:last],
        flags_all[first:last],
    )  # fmt: skip


@jit
def shingle_many(
    words_all: Any, marks_all: Any, quoted_all: Any, gone_all: Any, lines: Any, flags_all: Any, offsets: Any, k: int,
    pk: int, min_pw: int, max_pw: int, multipliers: Any, salt: Any, doc_a: Any, doc_b: Any, passage_a: Any,
    passage_b: Any,
) -> Any:  # fmt: skip
    """``_shingle_and_sign`` for each text of a ``fold_split_many`` batch, and its quoted shingles
    (``quoted_shingles``). Returns ``bounds`` and three packed arrays: ``bounds[t, f]`` is where
    text ``t``'s part of field ``f`` starts in its field (``bounds[t + 1, f]`` where it ends),
    fields in the order words, sentence starts, sentence fingerprints, passages (two values each),
    passage shingles, passage offsets, shingles, quoted shingles. The uint64 array holds the
    words, the fingerprints, the passage shingles, the shingles and the quoted shingles of all
    texts, field after field; the int64 array the sentence starts, the passages,
    the passages' sentences and the passage offsets (the starts and offsets relative to their
    text); the uint32 array the documents' signatures, then the passages'."""
    n_texts = offsets.shape[1] - 1
    bounds = np.zeros((n_texts + 1, 8), dtype=np.int64)
    guess = words_all.shape[0] + 16
    kept_all = np.empty(guess, dtype=np.uint64)
    pvalues_all = np.empty(guess, dtype=np.uint64)
    shingles_all = np.empty(guess, dtype=np.uint64)
    quoted_out = np.empty(16, dtype=np.uint64)
    fps_all = np.empty(guess // 8, dtype=np.uint64)
    starts_out = np.empty(guess // 8, dtype=np.int64)
    passages_all = np.empty(guess // 4, dtype=np.int64)
    owners_all = np.empty(guess // 8, dtype=np.int64)
    poffsets_all = np.empty(guess // 8, dtype=np.int64)
    doc_sigs = np.empty((n_texts, doc_a.shape[0]), dtype=np.uint32)
    psigs_all = np.empty(guess // 8 * passage_a.shape[0] + 16, dtype=np.uint32)
    n_sig = 0
    for t in range(n_texts):
        kept, starts, in_quotes = _text_words(t, words_all, marks_all, quoted_all, gone_all, lines, flags_all, offsets)
        out, doc_sig, psigs = _shingle_and_sign(
            kept, starts, k, pk, min_pw, max_pw, multipliers, salt, doc_a, doc_b, passage_a, passage_b
        )
        words, starts, fps, passages, owners, pvalues, poffsets, shingles = out
        e = bounds[t + 1]
        kept_all, e[0] = _append(kept_all, bounds[t, 0], words)
        starts_out, e[1] = _append(starts_out, bounds[t, 1], starts)
        fps_all, e[2] = _append(fps_all, bounds[t, 2], fps)
        passages_all, e[3] = _append(passages_all, bounds[t, 3], passages.reshape(-1))
        owners_all, _ = _append(owners_all, bounds[t, 3] // 2, owners)
        pvalues_all, e[4] = _append(pvalues_all, bounds[t, 4], pvalues)
        poffsets_all, e[5] = _append(poffsets_all, bounds[t, 5], poffsets)
        shingles_all, e[6] = _append(shingles_all, bounds[t, 6], shingles)
        quoted_out, e[7] = _append(quoted_out, bounds[t, 7], quoted_shingles(kept, in_quotes, k, multipliers))
        doc_sigs[t] = doc_sig
        psigs_all, n_sig = _append(psigs_all, n_sig, psigs.reshape(-1))
    end = bounds[n_texts]
    u64 = np.empty(end[0] + end[2] + end[4] + end[6] + end[7], dtype=np.uint64)
    i64 = np.empty(end[1] + end[3] + end[3] // 2 + end[5], dtype=np.int64)
    u32 = np.empty(doc_sigs.size + n_sig, dtype=np.uint32)
    at = 0
    for field, n in (
        (kept_all, end[0]), (fps_all, end[2]), (pvalues_all, end[4]), (shingles_all, end[6]), (quoted_out, end[7])
    ):  # fmt: skip
        u64[at : at + n] = field[:n]
        at += n
    at = 0
    for field, n in ((starts_out, end[1]), (passages_all, end[3]), (owners_all, end[3] // 2), (poffsets_all, end[5])):
        i64[at : at + n] = field[:n]
        at += n
    u32[: doc_sigs.size] = doc_sigs.reshape(-1)
    u32[doc_sigs.size :] = psigs_all[:n_sig]
    return bounds, u64, i64, u32


@jit
def signatures_many(
    words_all: Any, marks_all: Any, quoted_all: Any, gone_all: Any, lines: Any, flags_all: Any, offsets: Any, k: int,
    multipliers: Any, doc_a: Any, doc_b: Any,
) -> Any:  # fmt: skip
    """The document signature of each text of a ``fold_split_many`` batch, one row each: what
    ``shingle_many`` gives for the documents, without the passages, the fingerprints or the
    sorted set of shingles. MinHash takes the minimum over the shingles, which repeats do not
    change, so the k-grams are signed as they come."""
    n_texts = offsets.shape[1] - 1
    out = np.empty((n_texts, doc_a.shape[0]), dtype=np.uint32)
    whole = np.zeros(2, dtype=np.int64)
    for t in range(n_texts):
        kept = _text_words(t, words_all, marks_all, quoted_all, gone_all, lines, flags_all, offsets)[0]
        grams = _top32(_grams(kept, k, multipliers))
        whole[1] = grams.shape[0]
        minhash_into(grams, whole, doc_a, doc_b, out[t : t + 1])
    return out


@jit
def quoted_shingles(words: Any, quoted: Any, k: int, multipliers: Any) -> Any:
    """The sorted distinct k-gram hashes (``_grams``'s) whose words all lie in quoted speech
    (``quoted``, a flag per word); none for a text without quoted speech."""
    n = words.shape[0]
    if quoted.shape[0] != n:
        raise KernelInputError("quoted shingles: one flag per word is expected")
    k = min(k, n)
    keep = np.zeros(max(n - k + 1, 0), dtype=np.bool_)
    run, m = 0, 0
    for i in range(n):
        run = run + 1 if quoted[i] else 0
        if run >= k:
            keep[i - k + 1] = True
            m += 1
    if m == 0:
        return np.empty(0, dtype=np.uint64)
    return sorted_distinct(_grams(words, k, multipliers)[keep])


@jit
def _top32(values: Any) -> Any:
    out = np.empty(values.shape[0], dtype=np.uint32)
    for i in range(values.shape[0]):
        out[i] = np.uint32(values[i] >> np.uint64(32))
    return out


@jit
def kept_shingles(words: Any, starts: Any, dropped: Any, k: int, multipliers: Any) -> Any:
    """The words left when the sentences ``dropped`` (indexes, any order) are taken out of
    ``words`` (cut at ``starts``), and the sorted distinct k-gram hashes of what is left: what
    ``shingle.kept_shingles_reference`` gives, in one call (the verifier does this for every
    article that has learned boilerplate)."""
    keep = np.ones(words.shape[0], dtype=np.bool_)
    for s in dropped:
        if s < 0 or s + 1 >= starts.shape[0] or starts[s] < 0 or starts[s + 1] > words.shape[0]:
            raise KernelInputError("kept shingles: a dropped sentence that is not among the sentence starts")
        for j in range(starts[s], starts[s + 1]):
            keep[j] = False
    n = 0
    for j in range(words.shape[0]):
        n += keep[j]
    kept = np.empty(n, dtype=np.uint64)
    n = 0
    for j in range(words.shape[0]):
        if keep[j]:
            kept[n] = words[j]
            n += 1
    return kept, sorted_distinct(_grams(kept, k, multipliers))
