"""Finding #tags and @mentions in post and comment text, and the normalized form of a tag.

Rules (docs/API.md "Hashtags and mentions"):
- The text is NFKC-normalized first (so a decomposed "é" or a full-width "＃" counts as usual) and
  URLs (``scheme://...`` and ``www....`` up to the next space) are blanked out: ``/page#part`` or
  ``/@alice`` inside a link is neither a tag nor a mention.
- ``#`` starts a tag only at the start of the text or after a character that is not a letter,
  digit, ``_``, ``#``, ``&`` or ``/`` (so ``C#``, ``a#b``, ``&#38;`` and ``##x`` are no tags). The tag
  is the run of letters (with their combining marks), decimal digits and ``_`` that follows, in
  any script; it is not a tag when empty, all digits (``#1``) or longer than MAX_TAG characters.
- Tags are case-insensitive: stored and shown in their normalized form (NFKC + case folding, so
  ``#Straße`` is ``strasse``); repeats count once, in the order of their first appearance.
- ``@name`` is a mention under the same preceding-character rule (``bob@example.com`` is none),
  with a username's characters (ASCII letters, digits, ``_``, 3-30 of them) up to the first other
  character; a name followed by a letter or digit outside ASCII is none. Whether it names an
  account is the caller's question (an unknown name stays plain text).
"""

from __future__ import annotations

import re
import unicodedata

MAX_TAG = 100  # characters, as tags.name holds
MAX_TAGS = 30  # per post or comment; later ones are plain text
MAX_MENTIONS = 20  # per post or comment; later ones are plain text
_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://\S+|\bwww\.\S+")
_NAME = re.compile(r"[A-Za-z0-9_]{3,30}")
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_NOT_BEFORE = frozenset("#&/@")


def _tag_char(c: str) -> bool:
    if c == "_":
        return True
    cat = unicodedata.category(c)
    return cat[0] in "LM" or cat == "Nd"


def normalize_tag(value: str) -> str:
    """The form a tag is stored and looked up by: NFKC, case-folded, stripped, at most MAX_TAG."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).casefold())
    return folded.strip()[:MAX_TAG]


def _prepare(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    return _URL.sub(lambda m: " " * len(m.group()), text)


def _starts(text: str, sigil: str) -> list[int]:
    """Positions just after each `sigil` that may start a tag or mention."""
    found = []
    at = text.find(sigil)
    while at != -1:
        before = text[at - 1] if at else " "
        if not (_tag_char(before) or before in _NOT_BEFORE):
            found.append(at + 1)
        at = text.find(sigil, at + 1)
    return found


def parse_tags(text: str) -> list[str]:
    """The normalized tags of a text, each once, in order of first appearance (at most MAX_TAGS)."""
    text = _prepare(text)
    tags: list[str] = []
    for start in _starts(text, "#"):
        end = start
        while end < len(text) and _tag_char(text[end]):
            end += 1
        body = text[start:end]
        if not body or len(body) > MAX_TAG or all(unicodedata.category(c) == "Nd" for c in body):
            continue
        tag = normalize_tag(body)
        if tag and tag not in tags:
            tags.append(tag)
            if len(tags) == MAX_TAGS:
                break
    return tags


def parse_mentions(text: str) -> list[str]:
    """The usernames a text mentions (as written), each once ignoring case, in order (at most MAX_MENTIONS)."""
    text = _prepare(text)
    names: list[str] = []
    seen: set[str] = set()
    for start in _starts(text, "@"):
        end = start
        while end < len(text) and text[end] in _NAME_CHARS:
            end += 1
        name = text[start:end]
        if not _NAME.fullmatch(name) or (end < len(text) and _tag_char(text[end])):
            continue
        if name.lower() not in seen:
            seen.add(name.lower())
            names.append(name)
            if len(names) == MAX_MENTIONS:
                break
    return names
