"""Cross-field rules: what one argument's schema cannot say about the others ("strength is required when image is
given", "aspect_ratio only in text-to-image mode").

A rule is data, declared per operation in ``names.yaml`` (``rules:``), carried by the generator into
``operations.yaml`` (``Operation.rules``), checked against the operation when the table loads, enforced by
``kosmo_lua.ops.validate`` with every other problem, and described on docs pages, agent tool descriptions and
editor annotations (``describe_rule``). The vocabulary::

    rules:
      - when: {image: present}                 # every condition must hold
        require: [strength]                    # then these arguments must be given
      - when: {mode: image-to-image}
        require: [image, strength]
        forbid: [aspect_ratio]                 # and these must not be given
      - when: {mode: text-to-image}
        forbid: [image, strength]

``when`` maps argument names to a condition: ``present`` (the caller gave it), ``absent`` (the caller did not), a
value (the argument equals it), or a list of values (it equals one of them). A value condition compares the given
value or, when the argument is not given, its declared default: ``{mode: text-to-image}`` holds for a call that
leaves ``mode`` out when the API's default is ``text-to-image``. ``require`` and ``forbid`` are about what the
caller gives: a default never satisfies ``require`` nor breaks ``forbid``. Names are the ones scripts use
(parameters by their Lua or API name, body fields by name); the generator stores the Lua names.

Malformed rule data (unknown keys, an argument the operation does not have, a value outside the argument's enum) is
a ``ConfigError`` when the table is generated or loaded, never a surprise at call time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from .naming import close_matches

if TYPE_CHECKING:
    from .table import Operation

__all__ = ["Rule", "RULE_KEYS", "PRESENT", "ABSENT", "rule_from_data", "check_rules", "normalise_rule",
           "rule_problems", "describe_rule"]

RULE_KEYS = ("when", "require", "forbid")
PRESENT = "present"
ABSENT = "absent"


@dataclass(frozen=True)
class Rule:
    """When every ``when`` condition holds, the ``require`` arguments must be given and ``forbid`` ones must not."""

    #: argument name -> ``"present"`` | ``"absent"`` | a value | a tuple of values (any of them).
    when: dict[str, Any] = field(default_factory=dict)
    require: tuple[str, ...] = ()
    forbid: tuple[str, ...] = ()


# -- reading and checking rule data ------------------------------------------------------------------------------------

def _scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool))


def rule_from_data(data: Any, where: str) -> Rule:
    """A rule from its YAML form; ``ConfigError`` naming ``where`` when the shape is wrong."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: a rule must be a mapping with when and require and/or forbid, "
                          f"got {type(data).__name__}")
    unknown = sorted(str(k) for k in data if k not in RULE_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown rule keys {unknown} (known: {list(RULE_KEYS)})")
    when = data.get("when")
    if not isinstance(when, dict) or not when:
        raise ConfigError(f"{where}: 'when' must be a non-empty mapping of argument -> condition "
                          f"(present, absent, a value or a list of values)")
    conditions: dict[str, Any] = {}
    for name, condition in when.items():
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{where}: 'when' keys must be argument names, got {name!r}")
        if isinstance(condition, (list, tuple)):
            if not condition or not all(_scalar(v) for v in condition):
                raise ConfigError(f"{where}: when.{name}: a list of values must be non-empty and hold only "
                                  f"strings, numbers or booleans")
            condition = tuple(condition)
        elif not _scalar(condition):
            raise ConfigError(f"{where}: when.{name}: expected present, absent, a value or a list of values, "
                              f"got {condition!r}")
        conditions[name] = condition
    lists: dict[str, tuple[str, ...]] = {}
    for key in ("require", "forbid"):
        names = data.get(key) or []
        if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) and n for n in names):
            raise ConfigError(f"{where}: '{key}' must be a list of argument names")
        if len(set(names)) != len(names):
            raise ConfigError(f"{where}: '{key}' names an argument twice")
        lists[key] = tuple(names)
    if not lists["require"] and not lists["forbid"]:
        raise ConfigError(f"{where}: a rule needs 'require' or 'forbid' (or both)")
    both = sorted(set(lists["require"]) & set(lists["forbid"]))
    if both:
        raise ConfigError(f"{where}: {both} both required and forbidden")
    return Rule(when=conditions, require=lists["require"], forbid=lists["forbid"])


@dataclass(frozen=True)
class _Arg:
    lua_name: str
    enum: tuple[Any, ...]
    default: Any


def _arguments(op: "Operation") -> dict[str, _Arg]:
    """Every name a rule may use (Lua and API names of parameters, body field names) -> the argument."""
    out: dict[str, _Arg] = {}
    for p in op.params:
        arg = _Arg(p.lua_name, p.enum, p.default)
        out.setdefault(p.lua_name, arg)
        out.setdefault(p.name, arg)
    if op.body is not None and op.body.encoding != "text":
        for f in op.body.fields:
            out.setdefault(f.name, _Arg(f.name, f.enum, f.default))
    return out


def _lookup(args: dict[str, _Arg], name: str, where: str, part: str) -> _Arg:
    arg = args.get(name)
    if arg is None:
        lua_names = list(dict.fromkeys(a.lua_name for a in args.values()))
        near = close_matches(name, lua_names, limit=1)
        hint = f" Did you mean '{near[0]}'?" if near else ""
        listing = ", ".join(lua_names) if lua_names else "none"
        raise ConfigError(f"{where}: {part} names '{name}', which is not an argument of this operation.{hint} "
                          f"Arguments: {listing}")
    return arg


def normalise_rule(op: "Operation", rule: Rule, where: str) -> Rule:
    """The rule checked against ``op`` and with every name replaced by the argument's Lua name."""
    args = _arguments(op)
    when: dict[str, Any] = {}
    for name, condition in rule.when.items():
        arg = _lookup(args, name, where, f"when.{name}")
        if arg.lua_name in when:
            raise ConfigError(f"{where}: 'when' names '{arg.lua_name}' twice")
        if condition not in (PRESENT, ABSENT) and arg.enum:
            for value in condition if isinstance(condition, tuple) else (condition,):
                if not any(_same(value, choice) for choice in arg.enum):
                    choices = ", ".join(_show(c) for c in arg.enum)
                    raise ConfigError(f"{where}: when.{name}: {_show(value)} is not one of the argument's values "
                                      f"({choices})")
        when[arg.lua_name] = condition
    require = tuple(_lookup(args, n, where, "require").lua_name for n in rule.require)
    forbid = tuple(_lookup(args, n, where, "forbid").lua_name for n in rule.forbid)
    both = sorted(set(require) & set(forbid))
    if both or len(set(require)) != len(require) or len(set(forbid)) != len(forbid):
        raise ConfigError(f"{where}: an argument is named twice in require/forbid ({both or 'a repeated name'})")
    return Rule(when=when, require=require, forbid=forbid)


def check_rules(op: "Operation", where: str) -> tuple[Rule, ...]:
    """``op.rules`` checked and normalised (``normalise_rule``); ``ConfigError`` when a rule names an argument the
    operation does not have or a value it cannot take."""
    return tuple(normalise_rule(op, rule, f"{where}: rule {i}") for i, rule in enumerate(op.rules, start=1))


# -- checking a call ---------------------------------------------------------------------------------------------------

def _same(a: Any, b: Any) -> bool:
    """Equal as Lua values: true is not 1, 3 is 3.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, str) or isinstance(b, str):
        return type(a) is type(b) and a == b
    return a == b


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if _scalar(value) else repr(value)


def _holds(condition: Any, name: str, given: dict[str, Any], defaults: dict[str, Any]) -> bool:
    if condition == PRESENT:
        return name in given
    if condition == ABSENT:
        return name not in given
    value = given[name] if name in given else defaults.get(name)
    if value is None:
        return False
    choices = condition if isinstance(condition, tuple) else (condition,)
    return any(_same(value, c) for c in choices)


def _condition_text(name: str, condition: Any, *, given: dict[str, Any] | None, default: Any, style: str) -> str:
    """``style``: ``code`` (Markdown code spans), ``plain`` (bare names) or ``message`` (quoted names, as in
    validation messages)."""
    q = {"code": lambda s: f"`{s}`", "plain": lambda s: s, "message": lambda s: f"'{s}'"}[style]
    v = (lambda c: f"`{_show(c)}`") if style == "code" else _show
    if condition == PRESENT:
        return f"{q(name)} is given"
    if condition == ABSENT:
        return f"{q(name)} is not given"
    if given is not None:
        # Checking a call: name the value that made the rule apply ('soil' is "sand"), not all it could be.
        condition = given.get(name, default)
    if isinstance(condition, tuple):
        text = f"{q(name)} is one of " + ", ".join(v(c) for c in condition)
    else:
        text = f"{q(name)} is {v(condition)}"
    if given is None:
        # Describing the rule: say when the default makes it apply to calls that leave the argument out.
        choices = condition if isinstance(condition, tuple) else (condition,)
        if default is not None and any(_same(default, c) for c in choices):
            text += f" (the default, so also when {q(name)} is not given)"
    elif name not in given:
        text += " (the default)"
    return text


def _defaults(op: "Operation") -> dict[str, Any]:
    return {a.lua_name: a.default for a in _arguments(op).values() if a.default is not None}


def rule_problems(op: "Operation", given: dict[str, Any]) -> list[str]:
    """Problems with a call's arguments under ``op.rules``; ``given`` maps Lua names to the values given."""
    problems: list[str] = []
    defaults = _defaults(op)
    for rule in op.rules:
        if not all(_holds(c, n, given, defaults) for n, c in rule.when.items()):
            continue
        because = " and ".join(_condition_text(n, c, given=given, default=defaults.get(n), style="message")
                               for n, c in rule.when.items())
        problems += [f"parameter '{n}' is required when {because}" for n in rule.require if n not in given]
        problems += [f"parameter '{n}' is not accepted when {because}" for n in rule.forbid if n in given]
    return problems


# -- describing ----------------------------------------------------------------------------------------------------

def _names(names: tuple[str, ...], code: bool) -> str:
    shown = [f"`{n}`" if code else n for n in names]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


def describe_rule(op: "Operation", rule: Rule, *, code: bool = True) -> str:
    """One sentence: 'When `mode` is `"image-to-image"`: `image` and `strength` are required.' (``code``: Markdown
    code spans; otherwise plain quotes, for agent tool descriptions)."""
    defaults = _defaults(op)
    style = "code" if code else "plain"
    when = " and ".join(_condition_text(n, c, given=None, default=defaults.get(n), style=style)
                        for n, c in rule.when.items())
    parts = []
    if rule.require:
        parts.append(f"{_names(rule.require, code)} {'is' if len(rule.require) == 1 else 'are'} required")
    if rule.forbid:
        parts.append(f"{_names(rule.forbid, code)} {'is' if len(rule.forbid) == 1 else 'are'} not accepted")
    return f"When {when}: {'; '.join(parts)}."
