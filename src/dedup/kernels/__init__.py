"""Compiled kernels for the hot loops, with numpy fallbacks.

MinHash over many sets is the one loop numpy handles badly: it must materialize a (shingles x
permutations) matrix and reduce it. Measured on this project's benchmark machine (400 shingles, 128
permutations, one core): numpy ``signatures`` 380 µs per set, the numba kernel below 6 µs per set,
bit for bit the same. So the kernel is compiled with numba when it is installed (it is a core
dependency) and falls back to numpy otherwise; ``KERNEL`` says which one runs.

The kernel computes exactly datasketch's "affine32" MinHash: ``fmix32(h)`` then ``a*h + b mod 2**32``
and the minimum per permutation, as ``sign.reference_signature`` does through datasketch itself.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import numpy.typing as npt

from dedup.errors import KernelInputError

U32 = npt.NDArray[np.uint32]
I64 = npt.NDArray[np.int64]

try:  # pragma: no cover - which branch runs depends on the environment
    import numba as _numba
except ImportError:  # pragma: no cover
    _numba = None  # type: ignore[assignment]

KERNEL = "numpy" if _numba is None else "numba"
_MAX_INT32 = 2**31 - 1

_log = logging.getLogger(__name__)
COMPILE_NOTICE = "compiling the text kernels once for this installation (up to a minute); later runs start at once"


def _jit(fn: Any) -> Any:
    return None if _numba is None else _numba.njit(cache=True, nogil=True)(fn)


def distinct(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """The sorted distinct values of a 1-D array, as ``np.unique`` gives them. Written here because
    numpy 2.4's ``np.unique`` goes through a hash table that is about five times slower than a sort
    on the few hundred values of one article (46 µs against 9 µs for 300 uint64, measured), and
    the verifier and the index call it on every comparison and every insert."""
    ordered, first = _sorted_firsts(values)
    return ordered[first]


def distinct_counts(values: npt.NDArray[Any]) -> tuple[npt.NDArray[Any], I64]:
    """``np.unique(values, return_counts=True)`` by a sort (see ``distinct``)."""
    ordered, first = _sorted_firsts(values)
    starts = np.flatnonzero(first)
    return ordered[starts], np.diff(np.append(starts, ordered.shape[0]))


def _sorted_firsts(values: npt.NDArray[Any]) -> tuple[npt.NDArray[Any], npt.NDArray[np.bool_]]:
    """``values`` sorted, and where each run of equal values starts."""
    ordered = np.sort(values)
    first = np.empty(ordered.shape[0], dtype=bool)
    first[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    return ordered, first


def _minhash_python(values: U32, offsets: I64, a: U32, b: U32, out: U32) -> None:
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
            h = (h * np.uint64(0x85EBCA6B)) & mask
            h ^= h >> np.uint64(13)
            h = (h * np.uint64(0xC2B2AE35)) & mask
            h ^= h >> np.uint64(16)
            h32 = np.uint32(h)
            for p in range(n_perm):
                v = np.uint32(a[p] * h32 + b[p])
                if v < row[p]:
                    row[p] = v


minhash_into = _jit(_minhash_python)
_minhash_into = minhash_into if minhash_into is not None else _minhash_python


def _fmix64(h: Any) -> Any:
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xC4CEB9FE1A85EC53)
    h ^= h >> np.uint64(33)
    return h


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
        out[i] = _fmix64(acc)
    return out


def _shingle_ids(ids: Any, hashes: Any, k: int, pk: int, min_pw: int, max_pw: int, multipliers: Any, salt: Any) -> Any:
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


def _insertion_sort(out: Any, first: int, last: int) -> None:
    """Sort ``out[first:last]`` in place; fast when the values are few or nearly in order."""
    for i in range(first + 1, last):
        x = out[i]
        j = i - 1
        while j >= first and out[j] > x:
            out[j + 1] = out[j]
            j -= 1
        out[j + 1] = x


def _sorted(values: Any) -> Any:
    """A sorted copy of uint64 ``values``. numba's ``np.sort`` (a quicksort) takes ~10 µs for 300
    values, and an LSD radix sort (8 passes of 8 bits) ~5.5 µs. Shingle hashes are spread evenly
    over 64 bits, so one pass that scatters them into about ``n`` buckets by their top bits leaves
    them nearly in order, and an insertion sort finishes in about one comparison each (~1.5 µs for
    300). Equal values stay put. A bucket that holds many distinct values (not seen from these
    hashes) makes the insertion sort quadratic in that bucket only; past ``_MAX_SCATTERED``
    values numpy's sort is used."""
    n = values.shape[0]
    out = values.copy()
    if n <= 48:
        _insertion_sort(out, 0, n)
        return out
    if n > _MAX_SCATTERED:
        return np.sort(values)
    shift, counts = _bucket_starts(values)
    for i in range(n):
        d = values[i] >> shift
        out[counts[d]] = values[i]
        counts[d] += 1
    _insertion_sort(out, 0, n)
    return out


def _bucket_starts(values: Any) -> Any:
    """For the scatter of ``_sorted``: the shift that leaves the top bits of a value (about as many
    buckets as values), and where each bucket starts."""
    n = values.shape[0]
    bits = 1
    while (1 << bits) < n:
        bits += 1
    shift = np.uint64(64 - bits)
    counts = np.zeros((1 << bits) + 1, dtype=np.int64)
    for i in range(n):
        counts[(values[i] >> shift) + np.uint64(1)] += 1
    for d in range(1, counts.shape[0]):
        counts[d] += counts[d - 1]
    return shift, counts


_MAX_SCATTERED = 100_000


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
            total += _fmix64(words[j] + np.uint64(j - starts[s]) * salt)
        fps[s] = _fmix64(total ^ np.uint64(starts[s + 1] - starts[s]))
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
        _insertion_sort(values, v, v + count)
        u = v
        for j in range(v, v + count):
            if j == v or values[j] != values[u - 1]:
                values[u] = values[j]
                u += 1
        v = u
        offsets[p + 1] = v
    values = values[:v].copy()
    return words, starts, fps, passages, owners, values, offsets, _sorted_distinct(grams)


def _sorted_distinct(values: Any) -> Any:
    """The sorted distinct values of uint64 ``values`` (``distinct``, inside compiled code)."""
    ordered = _sorted(values)
    unique = np.empty(ordered.shape[0], dtype=np.uint64)
    u = 0
    for j in range(ordered.shape[0]):
        if j == 0 or ordered[j] != ordered[j - 1]:
            unique[u] = ordered[j]
            u += 1
    return unique[:u].copy()


# -- the text kernel: raw text to words, without a Python object per word ----------------------
# Python's floor for text is one look-up per token; the kernels below go under it by folding,
# splitting and hashing the code points of the text in compiled loops. They read the fold table and
# character classes of ``normalize.fold_table`` and reproduce, character for character, what the
# regular-expression path ``shingle.tokens`` does (a hypothesis test compares them on random text).
_WORD, _SPACE, _LETTER, _SENTENCE_END, _CLOSING, _SOLO = 1, 2, 4, 8, 16, 32
_MARK = 0xE000
_FULL_STOP = 0x3002  # the ideographic full stop ends a sentence with or without a space after it
_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3


def _class_of(classes: Any, c: Any) -> Any:
    # characters beyond the BMP reach the kernel already folded: letters (``shingle`` turns the
    # others into "#")
    if c >= 0x10000:
        # Han extensions B and beyond are words of their own, as in ``normalize.SOLO_RANGES``
        return (_WORD | _LETTER | _SOLO) if 0x20000 <= c <= 0x3FFFF else (_WORD | _LETTER)
    return classes[c]


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


def _sentence_ends(f: Any, i: int, m: int, classes: Any, abbr_data: Any, abbr_off: Any) -> bool:
    """Whether the sentence-end character ``f[i]`` ends a sentence: closing characters may follow
    it, then a space or the end of the text (the ideographic full stop needs neither); a period
    after a single letter or a known abbreviation ends nothing."""
    c = f[i]
    j = i + 1
    while j < m and _class_of(classes, f[j]) & _CLOSING:
        j += 1
    if not (j == m or (_class_of(classes, f[j]) & _SPACE) != 0 or c == _FULL_STOP):
        return False
    if c != 46:
        return True
    r = i
    while r > 0 and _class_of(classes, f[r - 1]) & _WORD:
        r -= 1
    if i - r == 1 and _class_of(classes, f[r]) & _LETTER:
        return False
    return not (i - r > 1 and _is_abbreviation(f, r, i, abbr_data, abbr_off))


def _split_text(
    f: Any, m: int, classes: Any, abbr_data: Any, abbr_off: Any, strip_conjunction: bool, out: Any, o: int,
    line_starts: Any, line_first: Any, counts: Any, nl: int, hashes: Any, marks: Any, nh: int,
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
    on its line, from ``nh``. Returns the new ends of the three."""
    o0, nh0 = o, nh
    line_starts[nl] = 0
    line_first[nl] = 0
    li, words, marked = 1, 0, False
    offset, prime = np.uint64(_FNV_OFFSET), np.uint64(_FNV_PRIME)
    i = 0
    while i < m:
        c = f[i]
        cl = _class_of(classes, c)
        if (cl & (_WORD | _SPACE | _SOLO)) == _WORD and c != 95:
            # a word, read to its end by a loop of its own: with few values live, they stay in
            # registers (in the loop over all characters they did not, and the hash chain went
            # through memory: 1.5 times slower, measured)
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
                if (cl & (_WORD | _SPACE | _SOLO)) != _WORD or c == 95:
                    break
            if strip_conjunction and o - start >= 4 and out[start] == 0x0648:
                hashes[nh] = _out_word_hash(out, start, o, True)
            else:
                hashes[nh] = _fmix64(h)
            marks[nh] = marked
            nh += 1
            marked = False
            words += 1
            continue
        if cl & _SPACE:
            out[o] = c
        elif (cl & (_WORD | _SOLO)) == (_WORD | _SOLO) and c != 95:
            out[o] = c
            hashes[nh] = _fmix64((offset ^ np.uint64(c)) * prime)
            marks[nh] = marked
            nh += 1
            marked = False
            words += 1
        else:
            # punctuation is a space; a sentence end is one, then the mark (sentence ends are
            # never word or space characters)
            out[o] = 32
            if cl & _SENTENCE_END and _sentence_ends(f, i, m, classes, abbr_data, abbr_off):
                out[o + 1] = _MARK
                out[o + 2] = 32
                o += 2
                marked = True
        o += 1
        i += 1
        if c == 10:
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
    return _word_hash(out, first, end)


def _word_hash(spaced: Any, start: int, end: int) -> Any:
    h = np.uint64(_FNV_OFFSET)
    for j in range(start, end):
        h = (h ^ np.uint64(spaced[j])) * np.uint64(_FNV_PRIME)
    return _fmix64(h)


def _kept_words(hashes: Any, marks: Any, line_first_word: Any, flags: Any) -> Any:
    """The words of the lines not dropped (flag bit 1), and where each sentence starts among them
    (plus one past the end): at each kept line and after each sentence mark (never an empty
    sentence)."""
    words = np.empty(hashes.shape[0], dtype=np.uint64)
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
            if marks[w] and nw > starts[ns - 1]:
                starts[ns] = nw
                ns += 1
            words[nw] = hashes[w]
            nw += 1
    if nw > starts[ns - 1]:
        starts[ns] = nw
        ns += 1
    return words[:nw].copy(), starts[:ns].copy()


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
    _minhash_into(_top32(shingles), whole, doc_a, doc_b, doc_sig)
    passage_sigs = np.empty((passage_offsets.shape[0] - 1, passage_a.shape[0]), dtype=np.uint32)
    _minhash_into(_top32(passage_shingles), passage_offsets, passage_a, passage_b, passage_sigs)
    return out, doc_sig[0], passage_sigs


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
            if c < 0x10000 and ((classes[c] & (_WORD | _LETTER)) != _WORD or c == 95):
                return False
        elif atom != (32 if c == _MARK else c):
            return False
    return True


def _line_flags(
    spaced: Any, line_starts: Any, counts: Any, classes: Any, min_words: int, furniture: bool, always: bool,
    pre_data: Any, pre_off: Any, pre_first: Any, flags: Any,
) -> None:  # fmt: skip
    """The flag of each line of a spaced text (``counts``: its words; ``line_starts``: where it
    starts, plus one entry past the end) into ``flags``: 1 when it is too short to be prose
    (dropped), 2 when a furniture pattern could match it (to be tried by the patterns
    themselves): it starts, after its spaces, with one of the patterns' prefixes, or some pattern
    has none (``always``); 0 otherwise, and in the entry past the end."""
    n_lines = counts.shape[0]
    flags[n_lines] = 0
    for li in range(n_lines):
        flags[li] = 0
        if counts[li] < min_words:
            flags[li] = 1
            continue
        if not furniture:
            continue
        if always:
            flags[li] = 2
            continue
        i, end = line_starts[li], line_starts[li + 1] - 1
        while i < end and (spaced[i] == 32 or spaced[i] == _MARK):
            i += 1
        if i == end:
            continue
        c = spaced[i]
        # the prefixes come sorted, so those that start with c are one run (found by bisection),
        # and those that start with a digit the run of -1 at the front
        runs = ((np.searchsorted(pre_first, c), np.searchsorted(pre_first, c, side="right")),
                (0, np.searchsorted(pre_first, -1, side="right")))  # fmt: skip
        for first, last in runs:
            for p in range(first, last):
                if _starts_with(spaced, i, end, pre_data, pre_off[p], pre_off[p + 1], classes):
                    flags[li] = 2
                    break
            if flags[li]:
                break


def _append(buffer: Any, n: int, values: Any) -> Any:
    """``values`` written at ``buffer[n:]``, the buffer doubled when full; the buffer and the new end."""
    m = n + values.shape[0]
    buffer = _reserve(buffer, n, values.shape[0])
    buffer[n:m] = values
    return buffer, m


def _reserve(buffer: Any, n: int, room: int) -> Any:
    """``buffer`` (its first ``n`` values kept), doubled until it has ``room`` more after them."""
    while n + room > buffer.shape[0]:
        buffer = _grow(buffer, n)
    return buffer


def _folded_length(cps: Any, fold_off: Any) -> int:
    total = 0
    for i in range(cps.shape[0]):
        c = cps[i]
        total += fold_off[c + 1] - fold_off[c] if c < 0x10000 else 1
    return total


def _fold_split_many(
    cps: Any, text_off: Any, fold_off: Any, fold_data: Any, classes: Any, abbr_data: Any, abbr_off: Any,
    strip_conjunction: bool, min_words: int, furniture: bool, always: bool, pre_data: Any, pre_off: Any,
    pre_first: Any,
) -> Any:  # fmt: skip
    """Fold, split (``_split_text``) and flag the lines (``_line_flags``) of the texts
    ``cps[text_off[t]:text_off[t + 1]]``, one after the other, laid end to end: the spaced texts
    (text ``t``'s from ``offsets[0, t]``); its lines (from ``offsets[1, t]``, one more entry than
    lines), each with where it starts in its spaced text and where its words start among its
    text's words (``lines[0]`` and ``lines[1]``) and a flag (1: dropped, 2: to be tried by the
    furniture patterns; 0 for the extra entry); its words' hashes and marks (from ``offsets[2,
    t]``); and for each line to be tried, its index among the flags and where it starts and ends
    in the spaced texts. One call for a batch, with few arrays in and out: a call into compiled
    code costs microseconds of its own, about half a microsecond per array it returns. Every text
    is written straight into the batch's buffers (copying it there from arrays of its own cost a
    third of the time, measured)."""
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
    offsets = np.zeros((3, n_texts + 1), dtype=np.int64)
    tried = np.empty((n_texts + 16, 3), dtype=np.int64)
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
        ns1, nl1, nw1 = _split_text(
            f, m, classes, abbr_data, abbr_off, strip_conjunction, spaced_all, ns, starts_all, first_all, counts,
            nl, words_all, marks_all, nw,
        )  # fmt: skip
        _line_flags(
            spaced_all[ns:ns1], starts_all[nl:nl1], counts[: nl1 - nl - 1], classes, min_words, furniture, always,
            pre_data, pre_off, pre_first, flags_all[nl:nl1],
        )  # fmt: skip
        for li in range(nl, nl1 - 1):
            if flags_all[li] & 2:
                if nt == tried.shape[0]:
                    grown_tried = np.empty((2 * nt, 3), dtype=np.int64)
                    grown_tried[:nt] = tried[:nt]
                    tried = grown_tried
                tried[nt, 0], tried[nt, 1], tried[nt, 2] = li, ns + starts_all[li], ns + starts_all[li + 1] - 1
                nt += 1
        ns, nl, nw = ns1, nl1, nw1
        offsets[0, t + 1], offsets[1, t + 1], offsets[2, t + 1] = ns, nl, nw
    lines = np.empty((2, nl), dtype=np.int64)
    lines[0] = starts_all[:nl]
    lines[1] = first_all[:nl]
    return spaced_all[:ns], lines, flags_all[:nl], words_all[:nw], marks_all[:nw], offsets, tried[:nt]


def _text_words(t: int, words_all: Any, marks_all: Any, lines: Any, flags_all: Any, offsets: Any) -> Any:
    """Text ``t`` of a ``_fold_split_many`` batch: the words of its lines not dropped and its
    sentence starts (``_kept_words``)."""
    first, last = offsets[1, t], offsets[1, t + 1]
    w0, w1 = offsets[2, t], offsets[2, t + 1]
    return _kept_words(words_all[w0:w1], marks_all[w0:w1], lines[1, first:last], flags_all[first:last])


def _shingle_many(
    words_all: Any, marks_all: Any, lines: Any, flags_all: Any, offsets: Any, k: int, pk: int, min_pw: int,
    max_pw: int, multipliers: Any, salt: Any, doc_a: Any, doc_b: Any, passage_a: Any, passage_b: Any,
) -> Any:  # fmt: skip
    """``_shingle_and_sign`` for each text of a ``_fold_split_many`` batch. Returns ``bounds``
    and three packed arrays: ``bounds[t, f]`` is where text ``t``'s part of field ``f`` starts in
    its field (``bounds[t + 1, f]`` where it ends), fields in the order words, sentence starts,
    sentence fingerprints, passages (two values each), passage shingles, passage offsets,
    shingles. The uint64 array holds the words, the fingerprints, the passage shingles and the
    shingles of all texts, field after field; the int64 array the sentence starts, the passages,
    the passages' sentences and the passage offsets (the starts and offsets relative to their
    text); the uint32 array the documents' signatures, then the passages'."""
    n_texts = offsets.shape[1] - 1
    bounds = np.zeros((n_texts + 1, 7), dtype=np.int64)
    guess = words_all.shape[0] + 16
    kept_all = np.empty(guess, dtype=np.uint64)
    pvalues_all = np.empty(guess, dtype=np.uint64)
    shingles_all = np.empty(guess, dtype=np.uint64)
    fps_all = np.empty(guess // 8, dtype=np.uint64)
    starts_out = np.empty(guess // 8, dtype=np.int64)
    passages_all = np.empty(guess // 4, dtype=np.int64)
    owners_all = np.empty(guess // 8, dtype=np.int64)
    poffsets_all = np.empty(guess // 8, dtype=np.int64)
    doc_sigs = np.empty((n_texts, doc_a.shape[0]), dtype=np.uint32)
    psigs_all = np.empty(guess // 8 * passage_a.shape[0] + 16, dtype=np.uint32)
    n_sig = 0
    for t in range(n_texts):
        kept, starts = _text_words(t, words_all, marks_all, lines, flags_all, offsets)
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
        doc_sigs[t] = doc_sig
        psigs_all, n_sig = _append(psigs_all, n_sig, psigs.reshape(-1))
    end = bounds[n_texts]
    u64 = np.empty(end[0] + end[2] + end[4] + end[6], dtype=np.uint64)
    i64 = np.empty(end[1] + end[3] + end[3] // 2 + end[5], dtype=np.int64)
    u32 = np.empty(doc_sigs.size + n_sig, dtype=np.uint32)
    at = 0
    for field, n in ((kept_all, end[0]), (fps_all, end[2]), (pvalues_all, end[4]), (shingles_all, end[6])):
        u64[at : at + n] = field[:n]
        at += n
    at = 0
    for field, n in ((starts_out, end[1]), (passages_all, end[3]), (owners_all, end[3] // 2), (poffsets_all, end[5])):
        i64[at : at + n] = field[:n]
        at += n
    u32[: doc_sigs.size] = doc_sigs.reshape(-1)
    u32[doc_sigs.size :] = psigs_all[:n_sig]
    return bounds, u64, i64, u32


def _signatures_many(
    words_all: Any, marks_all: Any, lines: Any, flags_all: Any, offsets: Any, k: int, multipliers: Any,
    doc_a: Any, doc_b: Any,
) -> Any:  # fmt: skip
    """The document signature of each text of a ``_fold_split_many`` batch, one row each: what
    ``_shingle_many`` gives for the documents, without the passages, the fingerprints or the
    sorted set of shingles. MinHash takes the minimum over the shingles, which repeats do not
    change, so the k-grams are signed as they come."""
    n_texts = offsets.shape[1] - 1
    out = np.empty((n_texts, doc_a.shape[0]), dtype=np.uint32)
    whole = np.zeros(2, dtype=np.int64)
    for t in range(n_texts):
        kept, _ = _text_words(t, words_all, marks_all, lines, flags_all, offsets)
        grams = _top32(_grams(kept, k, multipliers))
        whole[1] = grams.shape[0]
        _minhash_into(grams, whole, doc_a, doc_b, out[t : t + 1])
    return out


def _top32(values: Any) -> Any:
    out = np.empty(values.shape[0], dtype=np.uint32)
    for i in range(values.shape[0]):
        out[i] = np.uint32(values[i] >> np.uint64(32))
    return out


if _numba is not None:
    _fmix64 = _jit(_fmix64)
    _grams = _jit(_grams)
    _shingle_words = _jit(_shingle_words)
    _class_of = _jit(_class_of)
    _is_abbreviation = _jit(_is_abbreviation)
    _word_hash = _jit(_word_hash)
    _insertion_sort = _jit(_insertion_sort)
    _bucket_starts = _jit(_bucket_starts)
    _sorted = _jit(_sorted)
    _sorted_distinct = _jit(_sorted_distinct)
    _top32 = _jit(_top32)
    _starts_with = _jit(_starts_with)
    _out_word_hash = _jit(_out_word_hash)
    _kept_words = _jit(_kept_words)
    _text_words = _jit(_text_words)
    _shingle_and_sign = _jit(_shingle_and_sign)
    _line_flags = _jit(_line_flags)
    _append = _jit(_append)
    _reserve = _jit(_reserve)
    _folded_length = _jit(_folded_length)
    _fold_into = _jit(_fold_into)
    _sentence_ends = _jit(_sentence_ends)
    _split_text = _jit(_split_text)
shingle_ids = _jit(_shingle_ids)
fold_split_many = _jit(_fold_split_many)
shingle_many = _jit(_shingle_many)
signatures_many = _jit(_signatures_many)


def _kept_shingles(words: Any, starts: Any, dropped: Any, k: int, multipliers: Any) -> Any:
    """The words left when the sentences ``dropped`` (indexes, any order) are taken out of
    ``words`` (cut at ``starts``), and the sorted distinct k-gram hashes of what is left: what
    ``shingle.kgram_hashes`` and ``distinct`` give on the kept words, in one call (the verifier
    does this for every article that has learned boilerplate; ~30 us in numpy, mostly calls)."""
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
    return kept, _sorted_distinct(_grams(kept, k, multipliers))


kept_shingles = _jit(_kept_shingles)


def _intersect_count(a: Any, b: Any) -> int:
    """Size of the intersection of two sorted arrays of unique values (a merge)."""
    i = j = count = 0
    na, nb = a.shape[0], b.shape[0]
    while i < na and j < nb:
        if a[i] == b[j]:
            count += 1
            i += 1
            j += 1
        elif a[i] < b[j]:
            i += 1
        else:
            j += 1
    return count


def _passage_overlaps(a_vals: Any, a_off: Any, a_ids: Any, b_vals: Any, b_off: Any, b_ids: Any) -> Any:
    """Shingles in common between every chosen passage of a (``a_ids``) and of b (``b_ids``): each
    passage's values are sorted and unique, so each pair is a merge."""
    out = np.zeros((a_ids.shape[0], b_ids.shape[0]), dtype=np.int64)
    for x in range(a_ids.shape[0]):
        pa = a_ids[x]
        seg_a = a_vals[a_off[pa] : a_off[pa + 1]]
        if seg_a.shape[0] == 0:
            continue
        lo_a, hi_a = seg_a[0], seg_a[seg_a.shape[0] - 1]
        for y in range(b_ids.shape[0]):
            pb = b_ids[y]
            seg_b = b_vals[b_off[pb] : b_off[pb + 1]]
            if seg_b.shape[0] == 0 or seg_b[0] > hi_a or seg_b[seg_b.shape[0] - 1] < lo_a:
                continue
            out[x, y] = _intersect_count(seg_a, seg_b)
    return out


intersect_count = _jit(_intersect_count)
if _numba is not None:
    _intersect_count = intersect_count
passage_overlaps = _jit(_passage_overlaps)


def _band_keys(signatures: Any, bands: int, rows: int, multipliers: Any) -> Any:
    """``index.band_keys`` compiled (numpy spends ~25 µs per call on a few small temporaries)."""
    n = signatures.shape[0]
    if bands < 0 or rows < 0 or bands * rows > signatures.shape[1] or rows > multipliers.shape[0]:
        raise KernelInputError("band keys: bands x rows must fit in a signature (and rows in the multipliers)")
    out = np.empty((n, bands), dtype=np.uint64)
    for r in range(n):
        for band in range(bands):
            mixed = np.uint64(0)
            for j in range(rows):
                mixed += np.uint64(signatures[r, band * rows + j]) * multipliers[j]
            mixed ^= np.uint64(band) * np.uint64(0xD6E8FEB86659FD93)
            mixed ^= mixed >> np.uint64(31)
            mixed *= np.uint64(0xBF58476D1CE4E5B9)
            mixed ^= mixed >> np.uint64(29)
            out[r, band] = mixed
    return out


band_keys = _jit(_band_keys)


def _check_table(slots_key: Any, slots_head: Any, entry_handle: Any, entry_next: Any) -> None:
    """The table's arrays fit together: as many keys as heads, a power of two of them (the probe
    masks its position with ``size - 1``), as many next links as handles."""
    size = slots_key.shape[0]
    if size == 0 or (size & (size - 1)) != 0 or slots_head.shape[0] != size:
        raise KernelInputError("table slots: key and head arrays of one size, a power of two, are expected")
    if entry_next.shape[0] != entry_handle.shape[0]:
        raise KernelInputError("table entries: handle and next arrays of one size are expected")


def _table_slot(slots_key: Any, slots_head: Any, key: Any) -> Any:
    """The slot of ``key`` (linear probing), or of the empty slot where it would go. The position
    is masked by ``size - 1``, so it stays in the arrays (``_check_table``: a power of two); a
    table with no empty slot is an error, not an endless probe."""
    mask = np.int64(slots_key.shape[0] - 1)
    # uint64 mixed with int64 turns into float64 in numba: keep the arithmetic in int64
    i = np.int64(key & np.uint64(mask))
    probes = np.int64(0)
    while slots_head[i] != -1 and slots_key[i] != key:
        i = (i + np.int64(1)) & mask
        probes += 1
        if probes > mask:
            raise KernelInputError("table slots: no empty slot left (the caller keeps them at most half full)")
    return i


def _table_insert(
    slots_key: Any, slots_head: Any, entry_handle: Any, entry_next: Any, n_entries: int, keys: Any, handle: int
) -> int:
    """Add ``handle`` under each of ``keys`` (distinct); returns the new number of entries. The
    caller keeps the slots at most half full and the entry arrays large enough; arrays that are
    not raise ``KernelInputError`` before anything is written."""
    _check_table(slots_key, slots_head, entry_handle, entry_next)
    if n_entries < 0 or n_entries + keys.shape[0] > entry_handle.shape[0]:
        raise KernelInputError("table entries: no room for the new entries (reserve it before inserting)")
    if handle < 0 or handle > _MAX_INT32 - 1:
        raise KernelInputError("table handle: out of the int32 range (-1 marks a removed entry)")
    for key in keys:
        i = _table_slot(slots_key, slots_head, key)
        if slots_head[i] == -1:
            slots_key[i] = key
        entry_handle[n_entries] = handle
        entry_next[n_entries] = slots_head[i]
        slots_head[i] = n_entries
        n_entries += 1
    return n_entries


def _table_remove(slots_key: Any, slots_head: Any, entry_handle: Any, entry_next: Any, keys: Any, handle: int) -> int:
    """Mark ``handle``'s entries under ``keys`` as removed; returns how many were. The lists are
    walked as ``_table_insert`` linked them (each link a position it wrote)."""
    _check_table(slots_key, slots_head, entry_handle, entry_next)
    removed = 0
    for key in keys:
        i = _table_slot(slots_key, slots_head, key)
        e = slots_head[i]
        while e != -1:
            if entry_handle[e] == handle:
                entry_handle[e] = -1
                removed += 1
            e = entry_next[e]
    return removed


def _table_query(slots_key: Any, slots_head: Any, entry_handle: Any, entry_next: Any, rows: Any) -> Any:
    """The handles found under any band key of some row, ascending, and for each the number of
    rows that hit it (counted here: ``distinct_counts`` in numpy cost as much as the walk)."""
    _check_table(slots_key, slots_head, entry_handle, entry_next)
    out = np.empty(64, dtype=np.int32)
    n = 0
    found = np.empty(64, dtype=np.int32)
    for r in range(rows.shape[0]):
        m = 0
        for b in range(rows.shape[1]):
            i = _table_slot(slots_key, slots_head, rows[r, b])
            e = slots_head[i]
            while e != -1:
                h = entry_handle[e]
                if h != -1:
                    if m == found.shape[0]:
                        grown = np.empty(2 * m, dtype=np.int32)
                        grown[:m] = found
                        found = grown
                    found[m] = h
                    m += 1
                e = entry_next[e]
        if m == 0:
            continue
        distinct = np.unique(found[:m])
        while n + distinct.shape[0] > out.shape[0]:
            grown = np.empty(2 * out.shape[0], dtype=np.int32)
            grown[:n] = out[:n]
            out = grown
        out[n : n + distinct.shape[0]] = distinct
        n += distinct.shape[0]
    ordered = np.sort(out[:n])
    handles = np.empty(n, dtype=np.int32)
    counts = np.empty(n, dtype=np.int64)
    u = 0
    for j in range(n):
        if u > 0 and ordered[j] == handles[u - 1]:
            counts[u - 1] += 1
        else:
            handles[u] = ordered[j]
            counts[u] = 1
            u += 1
    return handles[:u].copy(), counts[:u].copy()


if _numba is not None:
    _check_table = _jit(_check_table)
    _table_slot = _jit(_table_slot)
table_insert = _jit(_table_insert)
table_remove = _jit(_table_remove)
table_query = _jit(_table_query)


def _group_start(keys: Any, s: int) -> int:
    """The first position of the run of equal keys that holds position ``s`` (keys sorted)."""
    key = keys[s]
    while s > 0 and keys[s - 1] == key:
        s -= 1
    return s


def _grow(values: Any, n: int) -> Any:
    grown = np.empty(2 * values.shape[0] + 16, dtype=values.dtype)
    grown[:n] = values[:n]
    return grown


def _check_articles(values: Any, n: int) -> None:
    """Every one of ``values`` is an article, in ``[0, n)``."""
    for x in range(values.shape[0]):
        if values[x] < 0 or values[x] >= n:
            raise KernelInputError("candidate pairs: an owner or rank beyond the articles of the batch")


def _candidate_pairs(
    rank: Any,
    by_rank: Any,
    doc_keys: Any,
    doc_owner: Any,
    doc_pos: Any,
    doc_bands: int,
    pas_off: Any,
    pas_keys: Any,
    pas_owner: Any,
    pas_pos: Any,
    min_hits: int,
    limit: int,
) -> Any:
    """The candidate pairs (b, a) of a batch, a before b in id order (``rank``; -1: not in the
    batch), as ``CandidateIndex`` proposes them when the articles are added in that order: every
    article whose document shares a band key with b's, then the articles hit by at least
    ``min(min_hits, b's passages)`` of b's evidence passages (each passage counts once per article),
    most hits first, ties by rank, at most ``limit``. Keys come sorted by (key, rank of the owner);
    ``*_pos`` says where each article's (or passage's) key went. Written here because no library
    joins sorted LSH buckets with this ranking rule; memory is O(articles) besides the inputs."""
    n = rank.shape[0]
    # the owners and ``by_rank`` index the per-article arrays written below
    _check_articles(doc_owner, n)
    _check_articles(pas_owner.ravel(), n)
    _check_articles(by_rank, n)
    out_b = np.empty(1024, dtype=np.int32)
    out_a = np.empty(1024, dtype=np.int32)
    m = 0
    doc_mark = np.full(n, -1, dtype=np.int64)
    last = np.full(n, -1, dtype=np.int64)
    hits = np.zeros(n, dtype=np.int32)
    touched = np.empty(n, dtype=np.int32)
    bands = pas_keys.shape[0]
    for rb in range(by_rank.shape[0]):
        b = by_rank[rb]
        for t in range(doc_bands):
            s = doc_pos[b * doc_bands + t]
            for x in range(_group_start(doc_keys, s), s):
                a = doc_owner[x]
                if 0 <= rank[a] < rb and doc_mark[a] != b:
                    doc_mark[a] = b
                    if m == out_b.shape[0]:
                        out_b, out_a = _grow(out_b, m), _grow(out_a, m)
                    out_b[m], out_a[m] = b, a
                    m += 1
        first, end = pas_off[b], pas_off[b + 1]
        if end == first:
            continue
        nt = 0
        for j in range(first, end):
            for t in range(bands):
                s = pas_pos[t, j]
                for x in range(_group_start(pas_keys[t], s), s):
                    a = pas_owner[t, x]
                    if 0 <= rank[a] < rb and last[a] != j:
                        last[a] = j
                        if hits[a] == 0:
                            touched[nt] = a
                            nt += 1
                        hits[a] += 1
        need = max(1, min(min_hits, end - first))
        chosen = np.empty(nt, dtype=np.int64)
        c = 0
        for i in range(nt):
            a = touched[i]
            if hits[a] >= need and doc_mark[a] != b:
                chosen[c] = (np.int64((1 << 30) - hits[a]) << 32) | rank[a]  # most hits first, then rank
                c += 1
        chosen = np.sort(chosen[:c])
        for i in range(min(c, limit)):
            if m == out_b.shape[0]:
                out_b, out_a = _grow(out_b, m), _grow(out_a, m)
            out_b[m], out_a[m] = b, by_rank[chosen[i] & 0xFFFFFFFF]
            m += 1
        for i in range(nt):
            hits[touched[i]] = 0
    return out_b[:m].copy(), out_a[:m].copy()


if _numba is not None:
    _group_start = _jit(_group_start)
    _grow = _jit(_grow)
    _check_articles = _jit(_check_articles)
candidate_pairs = _jit(_candidate_pairs)


def _sort_runs(keys: Any, order: Any, secondary: Any) -> None:
    """``order`` sorts ``keys`` (``keys[order]`` ascending); reorder each run of equal keys by
    ``secondary[order[i]]`` ascending, in place, so that the result is the sort by (key, secondary).
    Cheaper than a two-key sort when most keys are distinct."""
    n = order.shape[0]
    i = 0
    while i < n:
        j = i + 1
        key = keys[order[i]]
        while j < n and keys[order[j]] == key:
            j += 1
        if j - i > 1:
            run = order[i:j].copy()
            values = np.empty(j - i, dtype=np.int64)
            for x in range(j - i):
                values[x] = secondary[run[x]]
            by = np.argsort(values, kind="mergesort")
            for x in range(j - i):
                order[i + x] = run[by[x]]
        i = j


sort_runs = _jit(_sort_runs)


def _contains(values: Any, lo: int, hi: int, x: Any) -> bool:
    """Whether the sorted ``values[lo:hi]`` hold ``x`` (a binary search)."""
    end = hi
    while lo < hi:
        mid = (lo + hi) // 2
        if values[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo < end and values[lo] == x


def _median(values: Any) -> Any:
    """The median of ``values`` (at least one), as ``statistics.median`` gives it."""
    ordered = np.sort(values)
    k = ordered.shape[0]
    return ordered[k // 2] if k % 2 == 1 else (ordered[k // 2 - 1] + ordered[k // 2]) / 2


if _numba is not None:
    _contains = _jit(_contains)
    _median = _jit(_median)


def _judge_samples(fps: Any, starts: Any, samples: Any, judged: Any, min_unique_fraction: float) -> Any:
    """``boilerplate.judge`` for many sentences at once: sentence ``judged[r]`` over the articles
    ``samples[r]`` (-1 pads), each article's distinct fingerprints sorted in ``fps[starts[a]:
    starts[a + 1]]``. For each sampled article, the share of its other sentences found in no other
    sampled article; the sentence is boilerplate when the median share reaches the threshold."""
    out = np.zeros(samples.shape[0], dtype=np.bool_)
    fractions = np.empty(samples.shape[1], dtype=np.float64)
    for r in range(samples.shape[0]):
        fp = judged[r]
        k = 0
        for i in range(samples.shape[1]):
            a = samples[r, i]
            if a < 0:
                continue
            own = unique = 0
            for p in range(starts[a], starts[a + 1]):
                x = fps[p]
                if x == fp:
                    continue
                own += 1
                elsewhere = False
                for j in range(samples.shape[1]):
                    o = samples[r, j]
                    if o < 0 or j == i:
                        continue
                    if _contains(fps, starts[o], starts[o + 1], x):  # the other article's sorted fingerprints
                        elsewhere = True
                        break
                if not elsewhere:
                    unique += 1
            fractions[k] = 0.0 if own == 0 else unique / own
            k += 1
        out[r] = _median(fractions[:k]) >= min_unique_fraction
    return out


judge_samples = _jit(_judge_samples)


def _judge_rows(fps: Any, starts: Any, rows: Any, row_of: Any, judged: Any, min_unique_fraction: float) -> Any:
    """``boilerplate.judge`` for many sentences judged over a few samples, as ``boilerplate.Sample``
    counts them: what does not depend on the judged sentence (each sampled article's sentences
    that no other sampled article has) is counted once per sample. Sentence ``judged[r]`` is judged
    over the articles ``rows[row_of[r]]`` (-1 pads); article ``a``'s sentence fingerprints are
    ``fps[starts[a]:starts[a + 1]]``, in any order, repeats allowed."""
    n_art = starts.shape[0] - 1
    own_fps = np.empty(fps.shape[0], dtype=fps.dtype)
    lo = np.zeros(n_art, dtype=np.int64)
    hi = np.zeros(n_art, dtype=np.int64)
    n = 0
    for a in range(n_art):  # each article's distinct fingerprints, sorted
        seg = np.sort(fps[starts[a] : starts[a + 1]])
        lo[a] = n
        for k in range(seg.shape[0]):
            if k == 0 or seg[k] != seg[k - 1]:
                own_fps[n] = seg[k]
                n += 1
        hi[a] = n
    width = rows.shape[1]
    own = np.zeros(rows.shape, dtype=np.int64)  # per sample and member: sentences no other member has
    for r in range(rows.shape[0]):
        for i in range(width):
            a = rows[r, i]
            if a < 0:
                continue
            for p in range(lo[a], hi[a]):
                elsewhere = False
                for j in range(width):
                    o = rows[r, j]
                    if o >= 0 and j != i and _contains(own_fps, lo[o], hi[o], own_fps[p]):
                        elsewhere = True
                        break
                if not elsewhere:
                    own[r, i] += 1
    out = np.zeros(judged.shape[0], dtype=np.bool_)
    fractions = np.empty(width, dtype=np.float64)
    carries = np.zeros(width, dtype=np.bool_)
    for q in range(judged.shape[0]):
        r, fp = row_of[q], judged[q]
        carriers = 0
        for i in range(width):
            a = rows[r, i]
            carries[i] = a >= 0 and _contains(own_fps, lo[a], hi[a], fp)
            carriers += carries[i]
        k = 0
        for i in range(width):
            a = rows[r, i]
            if a < 0:
                continue
            size = hi[a] - lo[a] - carries[i]
            mine = own[r, i] - (1 if carries[i] and carriers == 1 else 0)
            fractions[k] = mine / size if size else 0.0
            k += 1
        out[q] = _median(fractions[:k]) >= min_unique_fraction
    return out


judge_rows = _jit(_judge_rows)


def _tagged(vals: Any, off: Any, ids: Any) -> Any:
    """The shingles of the passages ``ids`` laid end to end and sorted, each with the position in
    ``ids`` of its passage, and each passage's size."""
    sizes = np.empty(ids.shape[0], dtype=np.int64)
    total = 0
    for x in range(ids.shape[0]):
        sizes[x] = off[ids[x] + 1] - off[ids[x]]
        total += sizes[x]
    flat = np.empty(total, dtype=vals.dtype)
    owner = np.empty(total, dtype=np.int64)
    n = 0
    for x in range(ids.shape[0]):
        lo = off[ids[x]]
        for k in range(sizes[x]):
            flat[n] = vals[lo + k]
            owner[n] = x
            n += 1
    _sort_tagged(flat, owner)
    return flat, owner, sizes


def _sort_tagged(values: Any, tags: Any) -> None:
    """Sort uint64 ``values`` in place, each ``tags`` entry moved with its value, as ``_sorted``
    sorts (one scatter by the top bits, then an insertion sort; numba's ``np.argsort`` and the
    two gathers after it took about three times as long on a few hundred shingle hashes). Equal
    values may come in any order of their tags."""
    n = values.shape[0]
    if n > 48 and n <= _MAX_SCATTERED:
        shift, counts = _bucket_starts(values)
        scattered, moved = np.empty_like(values), np.empty_like(tags)
        for i in range(n):
            d = values[i] >> shift
            scattered[counts[d]], moved[counts[d]] = values[i], tags[i]
            counts[d] += 1
        values[:] = scattered
        tags[:] = moved
    elif n > _MAX_SCATTERED:
        order = np.argsort(values)
        values[:] = values[order]
        tags[:] = tags[order]
        return
    for i in range(1, n):
        x, t = values[i], tags[i]
        j = i - 1
        while j >= 0 and values[j] > x:
            values[j + 1], tags[j + 1] = values[j], tags[j]
            j -= 1
        values[j + 1], tags[j + 1] = x, t


def _view_passages(passages: Any, owner: Any, n_sentences: int, dropped: Any, vals: Any, off: Any) -> Any:
    """A verifier view's passages in one call: the passages whose sentence is not in ``dropped``
    (their positions), their sizes in words, and ``_tagged`` of them (about eight numpy calls in
    a row otherwise, a third of a comparison with 100,000 indexed)."""
    drop = np.zeros(n_sentences, dtype=np.bool_)
    for d in dropped:
        if d < 0 or d >= n_sentences:
            raise KernelInputError("view passages: a dropped sentence beyond the article's sentences")
        drop[d] = True
    ids = np.empty(passages.shape[0], dtype=np.int64)
    n = 0
    for p in range(passages.shape[0]):
        if not drop[owner[p]]:
            ids[n] = p
            n += 1
    ids = ids[:n].copy()
    words = np.empty(n, dtype=np.int64)
    for x in range(n):
        words[x] = passages[ids[x], 1] - passages[ids[x], 0]
    flat, tags, sizes = _tagged(vals, off, ids)
    return ids, words, flat, tags, sizes


if _numba is not None:
    _sort_tagged = _jit(_sort_tagged)
    _tagged = _jit(_tagged)
tagged = _tagged if _numba is not None else None
view_passages = _jit(_view_passages)


def _shared_tagged(
    a_flat: Any,
    a_of: Any,
    size_a: Any,
    a_words: Any,
    b_flat: Any,
    b_of: Any,
    size_b: Any,
    b_words: Any,
    threshold: float,
) -> Any:
    """The passages of a (positions in its ``tagged`` ids) that share at least ``threshold`` of the
    shorter passage's shingles with some passage of b, each with its best partner (highest
    overlap, the first on ties) and that overlap; the words of a and of b in shared passages; how
    many passages of b are shared. ``verify.compare``'s passage step in one pass, from each side's
    ``tagged`` passage shingles (a view keeps them: an article compared several times is sorted
    once)."""
    na, nb = size_a.shape[0], size_b.shape[0]
    # Shingles in common between every passage of a and of b, from one merge of all of a's
    # passage shingles with all of b's (each tagged with its passage), not one merge per pair of
    # passages: a few hundred values each side instead of (passages of a) x (passages of b) merges.
    counts = np.zeros((na, nb), dtype=np.int64)
    i = j = 0
    while i < a_flat.shape[0] and j < b_flat.shape[0]:
        v = a_flat[i]
        w = b_flat[j]
        if v < w:
            i += 1
        elif v > w:
            j += 1
        else:
            i_end, j_end = i, j
            while i_end < a_flat.shape[0] and a_flat[i_end] == v:
                i_end += 1
            while j_end < b_flat.shape[0] and b_flat[j_end] == v:
                j_end += 1
            for p in range(i, i_end):
                for q in range(j, j_end):
                    counts[a_of[p], b_of[q]] += 1
            i, j = i_end, j_end
    best_b = np.full(na, -1, dtype=np.int64)
    best = np.zeros(na, dtype=np.float64)
    b_shared = np.zeros(nb, dtype=np.bool_)
    for x in range(na):
        if size_a[x] == 0:
            continue
        for y in range(nb):
            count = counts[x, y]
            if count == 0:
                continue
            overlap = count / max(min(size_a[x], size_b[y]), 1)
            if overlap >= threshold:
                b_shared[y] = True
                if best_b[x] < 0 or overlap > best[x]:
                    best_b[x], best[x] = y, overlap
    shared_a = np.flatnonzero(best_b >= 0)
    words_a = 0
    for i in range(shared_a.shape[0]):
        words_a += a_words[shared_a[i]]
    words_b = 0
    n_b = 0
    for y in range(nb):
        if b_shared[y]:
            words_b += b_words[y]
            n_b += 1
    return shared_a, best_b[shared_a], best[shared_a], words_a, words_b, n_b


shared_tagged = _jit(_shared_tagged)


def _first_run_signatures() -> list[tuple[Any, tuple[Any, ...]]]:
    """The kernels that the batch engine and the stream call from Python, each with the argument
    types they pass (a test checks that those paths call no other): what ``compile_all`` puts in
    numba's cache."""
    from numba import types as t

    def array(dtype: Any, ndim: int = 1, *, readonly: bool = False) -> Any:
        return t.Array(dtype, ndim, "C", readonly=readonly)

    u64, i64, i32, u32, u8 = array(t.uint64), array(t.int64), array(t.int32), array(t.uint32), array(t.uint8)
    fold = (i64, i64, u32, u8, u32, i64, t.boolean, t.int64, t.boolean, t.boolean, i64, i64, i64)
    shingle = (u64, array(t.boolean), array(t.int64, 2), u8, array(t.int64, 2), t.int64, t.int64, t.int64, t.int64)
    table = (u64, i32, i32, i32)
    return [
        # code points in 16 bits, or in 32 when a text has some beyond (``shingle._code_points``)
        (fold_split_many, (array(t.uint16, readonly=True), *fold)),
        (fold_split_many, (array(t.uint32, readonly=True), *fold)),
        (shingle_many, (*shingle, u64, t.uint64, u32, u32, u32, u32)),
        (band_keys, (array(t.uint32, 2), t.int64, t.int64, u64)),
        (
            candidate_pairs,
            (
                i64,
                i64,
                u64,
                i32,
                i32,
                t.int64,
                i64,
                array(t.uint64, 2),
                array(t.int32, 2),
                array(t.int32, 2),
                t.int64,
                t.int64,
            ),
        ),
        (sort_runs, (u64, i64, i32)),
        (judge_samples, (u64, i64, array(t.int64, 2), u64, t.float64)),
        (judge_rows, (u64, i64, array(t.int64, 2), i64, u64, t.float64)),
        (kept_shingles, (u64, i64, i64, t.int64, u64)),
        (view_passages, (array(t.int64, 2), i64, t.int64, i64, u64, i64)),
        (shared_tagged, (u64, i64, i64, i64, u64, i64, i64, i64, t.float64)),
        (intersect_count, (u64, u64)),
        (minhash_into, (u32, i64, u32, u32, array(t.uint32, 2))),
        (table_insert, (*table, t.int64, u64, t.int64)),
        (table_query, (*table, array(t.uint64, 2))),
    ]


def compile_all() -> int:
    """Load the kernels of ``_first_run_signatures`` from numba's cache, compiling (and caching)
    the ones it does not hold; how many there are (0 without numba). The package build calls it
    (``setup.py``), so that an installed package's first run finds them in its cache."""
    if _numba is None:
        return 0
    signatures = _first_run_signatures()
    for kernel, argtypes in signatures:
        kernel.compile(argtypes)
    return len(signatures)


def _announce_compiling() -> None:
    """Log ``COMPILE_NOTICE`` once per process, when numba first starts compiling a kernel of this
    module: the kernels are not in numba's cache, and the run waits for them (the command line
    prints the notice, so that a first run does not look hung)."""
    from numba.core import event

    class FirstCompile(event.Listener):
        announced = False

        def on_start(self, ev: Any) -> None:
            dispatcher = ev.data.get("dispatcher") if isinstance(ev.data, dict) else None
            py_func = getattr(dispatcher, "py_func", None)
            if not self.announced and getattr(py_func, "__module__", None) == __name__:
                self.announced = True
                _log.info(COMPILE_NOTICE)

        def on_end(self, ev: Any) -> None:
            pass

    event.register("numba:compile", FirstCompile())  # type: ignore[no-untyped-call]


if _numba is not None:
    _announce_compiling()
