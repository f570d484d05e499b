"""Every chapter's 30-second answer fits in about 35 s spoken, and the summary's question bank
repeats it.

Where the answer is: in each source notebook, the markdown cell whose first line is the
heading ``## The 30-second answer``; the answer is the first block quote (the run of lines
that start with ``>``) under that heading. What follows the quote in the same cell ("Where
the source is off") is commentary, not part of the answer. A notebook without exactly one such
cell, or with no quote in it, fails: there is no vacuous pass.

How words are counted (``words``): the rendered text is split at whitespace and every token
that contains a letter or a digit is a word. Before splitting, the ``>`` quote markers and code
fences are dropped (the code inside a fence counts, as it is read out or written down), a
link counts as its text only (``[text](url)``, ``{doc}`text <target>```), HTML tags are
dropped, and inside math (``$...$``, ``$$...$$``) spacing and sizing commands (``\\,``,
``\\quad``, ``\\big`` ...) are removed, so a formula counts one word per symbol group
separated by spaces in its source (``$c_t = f_t \\odot c_{t-1}$`` is 4 words: ``c_t``,
``f_t``, ``\\odot``, ``c_{t-1}``). Markup and punctuation on their own (``**``, ``-``,
``=``, ``|``) are not words.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from rnnkit import notebook

ROOT = Path(__file__).resolve().parents[1]
SLUGS = sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir())
SUMMARY = "13_summary"
MAX_WORDS = 90  # about 35 s at a speaking pace of 150 words a minute
HEADING = re.compile(r"#{1,6}\s+The 30-second answer\s*")

_DOC_LINK = re.compile(r"\{doc\}`([^`<]*?)\s*(?:<[^>`]*>)?`")
_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_HTML_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_MATH = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$", re.S)
_MATH_NOISE = re.compile(r"\\(?:[,;:! ]|q?quad\b|(?:big|Big|bigg|Bigg)[lr]?\b|left\b|right\b)")


def _math_text(match: re.Match) -> str:
    return " " + _MATH_NOISE.sub(" ", match.group(1) or match.group(2)) + " "


def words(markdown: str) -> list[str]:
    """The words of a markdown text, counted as the module docstring says."""
    lines = [re.sub(r"^\s*>\s?", "", line) for line in markdown.splitlines()]
    text = "\n".join(line for line in lines if not line.lstrip().startswith("```"))
    text = _MATH.sub(_math_text, text)
    text = _DOC_LINK.sub(r"\1", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _HTML_TAG.sub(" ", text)
    return [token for token in text.split() if any(ch.isalnum() for ch in token)]


def _first_quote(lines: list[str]) -> str:
    """The first block quote in lines: consecutive lines starting with '>'."""
    quote = []
    for line in lines:
        if line.lstrip().startswith(">"):
            quote.append(line)
        elif quote:
            break
    return "\n".join(quote)


def short_answer(slug: str) -> str:
    """The 30-second answer of a chapter, as markdown (the quote under the heading)."""
    nb = notebook.read(ROOT / "solutions" / slug / f"{slug}.ipynb")
    cells = [c for c in nb.cells if c.cell_type == "markdown"
             and c.source.strip() and HEADING.fullmatch(c.source.strip().splitlines()[0])]
    assert len(cells) == 1, (
        f"{slug}: expected one markdown cell that opens with '## The 30-second answer'; "
        f"found {len(cells)}")
    quote = _first_quote(cells[0].source.strip().splitlines()[1:])
    assert words(quote), f"{slug}: the 30-second answer has no '>' quote under its heading"
    return quote


def bank_answers() -> dict[str, str]:
    """The summary's answers to the source's own (★) questions, by the chapter they link to."""
    nb = notebook.read(ROOT / "solutions" / SUMMARY / f"{SUMMARY}.ipynb")
    found = {}
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        lines = cell.source.splitlines()
        for i, line in enumerate(lines):
            if re.match(r"\*\*Q\d+\. ★", line):
                quote = _first_quote(lines[i + 1:])
                links = re.findall(r"\{doc\}`[^`<]*<([^>`]+)>`", quote)
                assert links, f"the summary's answer to {line[:40]!r} links no chapter"
                # The closing "({doc}`ch. N <slug>`)" is a pointer, not part of the answer.
                found[links[-1]] = re.sub(r"\(\{doc\}`[^`]*`\)\s*$", "", quote.rstrip())
    return found


def test_every_short_answer_fits_in_90_words():
    """Each chapter has a 30-second answer of at most 90 words."""
    counts = {slug: len(words(short_answer(slug))) for slug in SLUGS}
    too_long = {slug: n for slug, n in counts.items() if n > MAX_WORDS}
    table = "\n".join(f"  {slug:22s} {n:4d}{'  <- too long' if n > MAX_WORDS else ''}"
                      for slug, n in counts.items())
    assert not too_long, f"30-second answers over {MAX_WORDS} words:\n{table}"


@pytest.mark.parametrize("slug", [s for s in SLUGS if s != SUMMARY])
def test_question_bank_repeats_the_short_answer(slug):
    """The summary's ★ entry for a chapter's question is that chapter's 30-second answer."""
    bank = bank_answers()
    assert slug in bank, f"the summary's question bank has no ★ answer linking to {slug}"
    chapter, summary = words(short_answer(slug)), words(bank[slug])
    assert summary == chapter, (
        f"the summary's ★ answer for {slug} differs from the chapter's 30-second answer:\n"
        f"  chapter ({len(chapter)} words): {' '.join(chapter)}\n"
        f"  summary ({len(summary)} words): {' '.join(summary)}")


def test_word_count_rule():
    """The counting rule on a small example: links, math, markup and code fences."""
    text = ("> **Gating** eases *vanishing* ({doc}`chapter 3 <03_fixing_gradients>`):\n"
            "> $c_t = f_t \\odot c_{t-1}$, see [the paper](https://example.org) -\n"
            "> ```python\n> out[:, -1]\n> ```")
    assert words(text) == ["**Gating**", "eases", "*vanishing*", "(chapter", "3):", "c_t", "f_t",
                           "\\odot", "c_{t-1}", "see", "the", "paper", "out[:,", "-1]"]
