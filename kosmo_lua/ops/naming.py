"""How names are made: Lua names for API parameters, title-derived aliases, and did-you-mean suggestions.

These rules are shared by the generator (which stores the resulting names explicitly in ``operations.yaml``) and by
validation (which suggests close names). Nothing here knows about a particular integration.
"""

from __future__ import annotations

import difflib
import re

__all__ = [
    "LUA_KEYWORDS",
    "TITLE_STOPWORDS",
    "snake_case",
    "title_alias",
    "is_lua_identifier",
    "lua_param_name",
    "close_matches",
]

LUA_KEYWORDS = frozenset({
    "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if", "in", "local", "nil",
    "not", "or", "repeat", "return", "then", "true", "until", "while",
})

#: Words a title-derived alias leaves out: they add length without telling operations apart.
TITLE_STOPWORDS = frozenset({"a", "an", "the", "of", "for"})

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_POSSESSIVE = re.compile(r"['\u2019]s\b")


def snake_case(name: str) -> str:
    """'Cancel-After' -> 'cancel_after', 'stability-client-id' -> 'stability_client_id', 'pageSize' -> 'page_size'."""
    spaced = _CAMEL_BOUNDARY.sub("_", name)
    return _NON_ALNUM.sub("_", spaced.lower()).strip("_")


def is_lua_identifier(name: str) -> bool:
    return bool(_IDENTIFIER.match(name)) and name not in LUA_KEYWORDS


def lua_param_name(api_name: str, location: str) -> str:
    """The name a script uses for a parameter: headers are always snake_case, others only when they must be."""
    if location == "header" or not is_lua_identifier(api_name):
        return snake_case(api_name)
    return api_name


def title_alias(summary: str) -> str:
    """An alias from an operation's one-line title.

    'Get a collection of models' -> 'get_collection_models'; 'Search models, collections, and docs (beta)' ->
    'search_models_collections_and_docs_beta'. Returns '' when nothing usable is left.
    """
    text = _POSSESSIVE.sub("", summary.lower())
    words = [w for w in _NON_ALNUM.split(text) if w and w not in TITLE_STOPWORDS]
    alias = "_".join(words)
    if alias and alias[0].isdigit():
        alias = "_" + alias
    return alias if is_lua_identifier(alias) else ""


def close_matches(word: str, candidates: list[str] | tuple[str, ...], *, limit: int = 3) -> list[str]:
    """Candidates that look like a misspelling of ``word`` (case-insensitive), best first."""
    lowered = {c.lower(): c for c in candidates}
    found = difflib.get_close_matches(word.lower(), list(lowered), n=limit, cutoff=0.6)
    return [lowered[f] for f in found]
