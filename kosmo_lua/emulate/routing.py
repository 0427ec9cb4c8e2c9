"""Routes of an emulator: ``@route("GET", "/predictions/{prediction_id}")`` on a method, matched per request."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import unquote

__all__ = ["route", "Route", "Router", "RouteMiss"]

_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def route(method: str, template: str, *, auth: bool = True,
          prefixed: bool = True) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a method of an ``Emulator`` subclass as the handler of ``method template``.

    ``{name}`` matches one path segment. ``auth=False`` serves callers without a credential (the handler still
    sees one when sent). ``prefixed=False`` matches the full path instead of the path under the API prefix (for
    URLs an API hands out on another host: file delivery, event streams).
    """

    def mark(func: Callable[..., Any]) -> Callable[..., Any]:
        routes = list(getattr(func, "_emulator_routes", ()))
        routes.append((method.upper(), template, auth, prefixed))
        func._emulator_routes = routes  # type: ignore[attr-defined]
        return func

    return mark


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    handler: Callable[..., Any]
    auth: bool
    prefixed: bool
    pattern: re.Pattern[str]

    @classmethod
    def build(cls, method: str, template: str, handler: Callable[..., Any], auth: bool, prefixed: bool) -> "Route":
        regex = ""
        pos = 0
        for m in _PARAM.finditer(template):
            regex += re.escape(template[pos:m.start()]) + f"(?P<{m.group(1)}>[^/]+)"
            pos = m.end()
        regex += re.escape(template[pos:])
        return cls(method, template, handler, auth, prefixed, re.compile(regex + r"\Z"))


class RouteMiss(Exception):
    """No route answered: ``allowed`` lists the methods of routes whose path matched (empty -> 404, else 405)."""

    def __init__(self, allowed: list[str]) -> None:
        super().__init__(", ".join(allowed))
        self.allowed = allowed


class Router:
    def __init__(self, routes: list[Route], prefix: str) -> None:
        self.routes = routes
        self.prefix = prefix

    @classmethod
    def collect(cls, owner: object, prefix: str) -> "Router":
        """Every ``@route``-marked method of ``owner``'s class (subclasses override by defining the same name)."""
        routes: list[Route] = []
        seen: set[str] = set()
        for klass in type(owner).__mro__:
            for name, attr in vars(klass).items():
                if name in seen:
                    continue
                seen.add(name)
                for method, template, auth, prefixed in getattr(attr, "_emulator_routes", ()):
                    routes.append(Route.build(method, template, getattr(owner, name), auth, prefixed))
        return cls(routes, prefix)

    def relative(self, path: str) -> str | None:
        """``path`` under the API prefix, or None when it lies outside."""
        if not self.prefix:
            return path
        if path == self.prefix:
            return "/"
        if path.startswith(self.prefix + "/"):
            return path[len(self.prefix):]
        return None

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str], str]:
        """The route, its percent-decoded parameters and the path it matched against; ``RouteMiss`` otherwise."""
        relative = self.relative(path)
        allowed: list[str] = []
        for r in self.routes:
            candidate = relative if r.prefixed else path
            if candidate is None:
                continue
            m = r.pattern.match(candidate)
            if m is None:
                continue
            if r.method != method:
                allowed.append(r.method)
                continue
            return r, {k: unquote(v) for k, v in m.groupdict().items()}, candidate
        raise RouteMiss(sorted(set(allowed)))
