"""Rule-based answer parsing for multiple-choice video QA: a model's text -> the index of the option it chose.

Rules, in order (``None`` when none applies: the answer counts as unparsed, and wrong):

1. Yes/no questions (options ``yes``, ``no``): the first word of the answer, after a leading "Answer:" or "The
   answer is", must be yes or no.
2. The answer, lower-cased with surrounding punctuation removed (with or without the lead-in of rule 3), equals
   the text of exactly one option.
3. A leading lead-in ("Answer:", "The answer is", "Best option:", "Option", "Caption") is dropped; then the whole
   answer is one letter (``B``, ``(B)``, ``B.``, ``B)``, ``B:``), or it starts with ``(B)``, ``B.``, ``B)`` or ``B:``
   followed by a space.
4. Exactly one distinct ``(X)`` letter of a listed option appears anywhere in the answer.
5. Exactly one option's text appears in the answer as whole words (an option whose text lies inside another
   matching option's text is dropped first: "red" inside "dark red").

A letter past the last option ("D" with three options) is unparsed, never wrong-but-parsed.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence

YES_NO = ("yes", "no")
_LEAD = re.compile(r"^(?:the\s+)?(?:correct\s+|best\s+|final\s+)?(?:answer|option|choice)\b(?:\s+is)?\s*[:\-]?\s*"
                   r"|^caption\s+(?=[a-z]\b)", re.IGNORECASE)
_ALONE = re.compile(r"\(?([A-Za-z])\)?[.):]?")
_LEADING = re.compile(r"(?:\(([A-Z])\)|([A-Z])[.):])\s")
_PAREN = re.compile(r"\(([A-Z])\)")


def normalize(text: str) -> str:
    """Lower case, whitespace collapsed, punctuation stripped from both ends."""
    return " ".join(text.lower().split()).strip(string.punctuation + " ")


def is_yes_no(options: Sequence[str]) -> bool:
    """Whether the options are exactly yes and no (either order)."""
    return sorted(normalize(o) for o in options) == sorted(YES_NO)


def _strip_lead(text: str) -> str:
    previous = None
    while previous != text:
        previous, text = text, _LEAD.sub("", text, count=1).strip()
    return text


def _yes_no(text: str, options: Sequence[str]) -> int | None:
    words = normalize(_strip_lead(text)).split()
    first = words[0].strip(string.punctuation) if words else ""
    return [normalize(o) for o in options].index(first) if first in YES_NO else None


def _letter(text: str, count: int) -> int | None:
    alone = _ALONE.fullmatch(text)
    match = alone.group(1).upper() if alone else None
    if match is None:
        leading = _LEADING.match(text + " ")
        match = (leading.group(1) or leading.group(2)) if leading else None
    if match is None:
        return None
    index = string.ascii_uppercase.index(match)
    return index if index < count else -1


def _contained(text: str, options: Sequence[str]) -> int | None:
    found = [i for i, o in enumerate(options) if normalize(o)
             and re.search(rf"(?<!\w){re.escape(normalize(o))}(?!\w)", text)]
    found = [i for i in found if not any(j != i and normalize(options[i]) in normalize(options[j]) for j in found)]
    return found[0] if len(found) == 1 else None


def parse_choice(response: str | None, options: Sequence[str], strict: bool = False) -> int | None:
    """The 0-based option index ``response`` chose, or ``None`` if the rules above do not decide it; ``strict``
    stops after rule 3 (how annotation answers are read)."""
    if response is None or not response.strip():
        return None
    text = response.strip()
    if is_yes_no(options):
        return _yes_no(text, options)
    stripped = _strip_lead(text)
    exact = {i for i, o in enumerate(options) if normalize(o) in (normalize(text), normalize(stripped))}
    if len(exact) == 1:
        return exact.pop()
    letter = _letter(stripped, len(options))
    if letter is not None or strict:
        return None if letter is None or letter < 0 else letter
    letters = {m for m in _PAREN.findall(text) if string.ascii_uppercase.index(m) < len(options)}
    if len(letters) == 1:
        return string.ascii_uppercase.index(letters.pop())
    return _contained(normalize(text), options)
