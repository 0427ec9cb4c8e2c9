"""One integration's annotation file (``<name>.gen.lua``), rendered from its operation table and helpers.yaml.

What a script gets from it in the editor, for ``app.integrations.<name>``:

* every function under each of its names (canonical and aliases), with the summary, description, HTTP method and
  path, the docs page to read, and the example;
* one ``---@class`` per operation for its argument table: parameters and body fields, optional ones marked ``?``,
  enums as literal unions (``---@alias`` when several operations share one), engine-level arguments
  (``save_to``, ``overwrite``, ``accept``) where the operation takes them, and ``body`` as the alternative form;
* the result type: a class named after the response schema where the table names one, the shared media/text
  result classes for non-JSON answers, else ``table``;
* ``paginate`` where the integration's lists are paginated, the helpers described in helpers.yaml, and the account
  sub-namespaces (``default`` plus the accounts named when the file is made), typed as the namespace itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from ..ops.naming import is_lua_identifier
from ..ops.rules import describe_rule
from ..ops.table import BodyField, Operation, OperationTable, Param
from ..ops.validate import engine_argument_names
from .luacats import FILE_INPUT, HEADER, doc_lines, field_line, literal_union, one_line, schema_type, vocabulary_type

__all__ = ["IntegrationStub", "render_integration", "namespace_class"]

#: Result classes declared in kosmo.gen.lua, by response kind.
_KIND_RESULT = {"media": "kosmo.MediaResult", "text": "kosmo.TextResult", "binary": "kosmo.TextResult",
                "empty": "table", "json": "table"}
#: Types helpers.yaml may name, as LuaCATS spells them.
_HELPER_TYPES = {"string": "string", "number": "number", "integer": "integer", "boolean": "boolean",
                 "table": "table", "object": "table", "array": "any[]", "function": "function", "any": "any",
                 "nil": "nil"}


@dataclass(frozen=True)
class IntegrationStub:
    """What the renderer needs to know about one integration, gathered by the caller (no I/O here)."""

    name: str
    title: str
    summary: str
    table: OperationTable
    paginated: bool = False
    helpers: tuple[dict[str, Any], ...] = ()
    accounts: tuple[str, ...] = ()  # named accounts besides "default"


def namespace_class(integration: str) -> str:
    return f"kosmo.{integration}"


@dataclass
class _TypeNames:
    """Every type name the file declares, with what it stands for: two different things never share a name (a
    response schema called like an enum field gets ``_2``), one thing asked for twice gets the same name."""

    owners: dict[str, object] = field(default_factory=dict)

    def claim(self, wanted: str, owner: object) -> str:
        name, n = wanted, 1
        while name in self.owners and self.owners[name] != owner:
            n += 1
            name = f"{wanted}_{n}"
        self.owners[name] = owner
        return name


@dataclass
class _Aliases:
    """Enum aliases. For each field name, the set of values most operations use gets the short name
    (``kosmo.stability.output_format``); an operation whose values differ gets its own
    (``kosmo.stability.remove_background.output_format``)."""

    prefix: str
    names: _TypeNames
    counts: dict[str, dict[frozenset[str], int]] = field(default_factory=dict)
    used: dict[str, str] = field(default_factory=dict)  # alias name -> union

    def collect(self, name: str, union: str) -> None:
        per_name = self.counts.setdefault(name, {})
        key = frozenset(union.split("|"))
        per_name[key] = per_name.get(key, 0) + 1

    def name_for(self, op: str, field_name: str, union: str) -> str:
        safe = field_name if is_lua_identifier(field_name) else _slug(field_name)
        per_name = self.counts.get(field_name, {})
        # max() keeps the first of equal counts, and dicts keep first-seen order: the choice is stable.
        common = max(per_name, key=lambda k: per_name[k]) if per_name else None
        if common == frozenset(union.split("|")):
            alias = self.names.claim(f"{self.prefix}.{safe}", ("enum", field_name, common))
            union = self.used.get(alias, union)  # the first spelling seen, whatever order others list values in
        else:
            alias = self.names.claim(f"{self.prefix}.{op}.{safe}", ("enum", op, field_name))
        self.used[alias] = union
        return alias


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c == "_" else "_" for c in name) or "field"


def _enum_of(item: Param | BodyField) -> tuple[tuple[Any, ...], bool]:
    """(enum values, whether they describe array items)."""
    if item.enum:
        return item.enum, False
    if isinstance(item, BodyField) and item.type == "array" and item.items_enum:
        return item.items_enum, True
    return (), False


def _fields(op: Operation) -> list[Param | BodyField]:
    items: list[Param | BodyField] = list(op.params)
    if op.body is not None and op.body.encoding not in ("text", "binary"):
        taken = {p.lua_name for p in op.params}
        items += [f for f in op.body.fields if f.name not in taken]
    return items


def _lua_name(item: Param | BodyField) -> str:
    return item.lua_name if isinstance(item, Param) else item.name


def _describe(item: Param | BodyField, where: str) -> str:
    bits = [one_line(item.description)] if item.description else []
    if item.default is not None:
        bits.append(f"Default: {_show(item.default)}.")
    lo, hi = item.minimum, item.maximum
    if lo is not None and hi is not None:
        bits.append(f"From {_num(lo)} to {_num(hi)}.")
    elif lo is not None:
        bits.append(f"At least {_num(lo)}.")
    elif hi is not None:
        bits.append(f"At most {_num(hi)}.")
    if where:
        bits.append(f"({where})")
    return " ".join(bits)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value) if isinstance(value, (int, float)) else "(see docs)"


def _item_type(item: Param | BodyField, aliases: _Aliases, op: Operation) -> str:
    enum, for_items = _enum_of(item)
    union = literal_union(enum) if enum else None
    nullable = isinstance(item, BodyField) and item.nullable
    if union is not None:
        alias = aliases.name_for(op.name, _lua_name(item), union)
        t = f"{alias}[]" if for_items else alias
        return f"{t}|kosmo.Null" if nullable else t
    if isinstance(item, Param):
        return vocabulary_type(item.type, items=item.items)
    return vocabulary_type(item.type, items=item.items, nullable=item.nullable, schema=item.schema)


def _args_class(op: Operation, cls: str, aliases: _Aliases) -> list[str]:
    lines = [f"---Arguments of `{op.name}`: one table of named values.", f"---@class {cls}"]
    for item in _fields(op):
        where = f"{item.location} parameter" if isinstance(item, Param) and item.location != "path" else ""
        lines.append(field_line(_lua_name(item), _item_type(item, aliases, op), optional=not item.required,
                                description=_describe(item, where)))
    body = op.body
    if body is not None:
        if body.encoding == "text":
            what = one_line(body.description) or "The request text."
            lines.append(field_line("body", "string", optional=not body.required, description=what))
        elif body.encoding == "binary":
            what = one_line(body.description) or f"The file sent as the request body ({body.content_type})."
            lines.append(field_line("body", FILE_INPUT, optional=not body.required, description=what))
        elif not body.fields and body.schema is not None:
            lines.append(field_line("body", schema_type(body.schema), optional=not body.required,
                                    description="The whole request body."))
        else:
            lines.append(field_line("body", "table<string, any>", optional=True,
                                    description="The body fields as one table, instead of naming them above."))
    engine = engine_argument_names(op.response)
    if "save_to" in engine:
        lines.append(field_line("save_to", "string", optional=True,
                                description="Write the result to this file (inside the working folder)."))
        lines.append(field_line("overwrite", "boolean", optional=True,
                                description="Replace an existing save_to file."))
    if "accept" in engine:
        union = literal_union(op.response.accept) or "string"
        lines.append(field_line("accept", union, optional=True, description="The media type to ask for."))
    return lines


def _result_type(op: Operation, prefix: str, names: _TypeNames, extra_classes: dict[str, list[str]]) -> str:
    resp = op.response
    if resp.kind == "media":
        if not resp.header_fields:
            return "kosmo.MediaResult"
        # Operations that send the same headers share one class; the first shape gets the plain name.
        shape = ("media", tuple(sorted(resp.header_fields.items())))
        known = names.claim(f"{prefix}.media_result", shape)
        if known not in extra_classes:
            lines = ["---Media, plus values the API sends in response headers.", f"---@class {known}: kosmo.MediaResult"]
            for lua_field, header in resp.header_fields.items():
                lines.append(field_line(lua_field, "string|integer", optional=True,
                                        description=f"From the `{header}` response header."))
            extra_classes[known] = lines
        return known
    if resp.kind == "json" and resp.schema_ref:
        cls = names.claim(f"{prefix}.{resp.schema_ref}", ("schema", resp.schema_ref))
        if cls not in extra_classes:
            # The table names the schema but does not hold it: the class names the shape and lets any field through.
            extra_classes[cls] = [f"---The `{resp.schema_ref}` object the API returns.", f"---@class {cls}",
                                  "---@field [string] any"]
        return cls
    return _KIND_RESULT.get(resp.kind, "table")


def _requires_args(op: Operation) -> bool:
    if any(item.required for item in _fields(op)):
        return True
    return op.body is not None and op.body.required


def _function(integration: str, local: str, op: Operation, fname: str, args_cls: str, result: str) -> list[str]:
    lines = doc_lines(op.summary or f"{op.method} {op.path}")
    if op.description:
        lines += ["---", *doc_lines(op.description)]
    for rule in op.rules:
        lines += ["---", *doc_lines(describe_rule(op, rule))]
    also = [n for n in op.names if n != fname]
    facts = f"`{op.method} {op.path}` ({op.access}). Docs: `docs.read(\"{integration}.{op.name}\")`."
    lines += ["---", f"---{facts}"]
    if fname != op.name:
        lines.append(f"---Another name for `{op.name}`.")
    elif also:
        lines.append("---Also answers as " + ", ".join(f"`{n}`" for n in also) + ".")
    if op.example:
        lines += ["---", "---```lua", *doc_lines(op.example), "---```"]
    optional = "" if _requires_args(op) else "?"
    lines += [f"---@param args{optional} {args_cls}", f"---@return {result}",
              f"function {local}.{fname}(args) end"]
    return lines


def _helper(local: str, prefix: str, spec: dict[str, Any], taken: set[str], names: _TypeNames) -> list[str]:
    name = str(spec.get("name") or "")
    if not is_lua_identifier(name) or name in taken:
        return []  # an operation of the same name wins at run time, so the helper is unreachable
    cls = names.claim(f"{prefix}.{name}.args", ("helper", name))
    lines = [f"---Arguments of the helper `{name}`.", f"---@class {cls}"]
    params = spec.get("params") or []
    for p in params:
        pname = str(p.get("name") or "")
        if not pname:
            continue
        lines.append(field_line(pname, _helper_type(str(p.get("type", "any"))), optional=not p.get("required"),
                                description=str(p.get("description") or "")))
    lines.append("")
    lines += doc_lines(str(spec.get("summary") or name))
    if spec.get("description"):
        lines += ["---", *doc_lines(str(spec["description"]))]
    lines += ["---", "---A helper written in Lua: it makes the API calls it needs, each subject to the usual permissions."]
    if spec.get("example"):
        lines += ["---", "---```lua", *doc_lines(str(spec["example"])), "---```"]
    required = any(p.get("required") for p in params)
    lines.append(f"---@param args{'' if required else '?'} {cls}")
    returns = one_line(str(spec.get("returns") or ""))
    lines.append(f"---@return any result {returns}".rstrip())
    lines.append(f"function {local}.{name}(args) end")
    return lines


def _helper_type(text: str) -> str:
    parts = [_HELPER_TYPES.get(t.strip(), "any") for t in text.split("|") if t.strip()]
    if not parts or "any" in parts:
        return "any"
    return "|".join(dict.fromkeys(parts))


def render_integration(stub: IntegrationStub) -> str:
    """The text of ``<name>.gen.lua``."""
    prefix = namespace_class(stub.name)
    local = stub.name if is_lua_identifier(stub.name) else "ns"
    ops = stub.table.operations
    names = _TypeNames()
    # Argument classes claim their names first, so they never depend on what else the file declares.
    args_classes = {op.name: names.claim(f"{prefix}.{op.name}.args", ("args", op.name)) for op in ops}
    aliases = _Aliases(prefix, names)
    for op in ops:
        for item in _fields(op):
            enum, _ = _enum_of(item)
            union = literal_union(enum) if enum else None
            if union is not None:
                aliases.collect(_lua_name(item), union)

    arg_blocks: list[list[str]] = []
    functions: list[list[str]] = []
    extra_classes: dict[str, list[str]] = {}
    for op in ops:
        args_cls = args_classes[op.name]
        arg_blocks.append(_args_class(op, args_cls, aliases))
        result = _result_type(op, prefix, names, extra_classes)
        for fname in op.names:
            functions.append(_function(stub.name, local, op, fname, args_cls, result))

    functions_named = {n for op in ops for n in op.names}
    helper_blocks = [b for b in (_helper(local, prefix, h, functions_named | {"paginate"}, names)
                                 for h in stub.helpers) if b]

    out: list[str] = [HEADER.rstrip("\n")]
    out += doc_lines(f"{stub.title}: `app.integrations.{stub.name}` ({len(ops)} operations). "
                     f"Regenerate after changing the integration or its accounts.")
    out.append("")
    for alias, union in sorted(aliases.used.items()):
        out.append(f"---@alias {alias} {union}")
    if aliases.used:
        out.append("")
    for block in [*arg_blocks, *extra_classes.values()]:
        out += [*block, ""]
    out += doc_lines(stub.summary or stub.title)
    out += ["---", f"---Functions use the default account; `app.integrations.{stub.name}.<account>` names another."]
    out.append(f"---@class {prefix}")
    out.append(field_line("default", prefix, optional=False, description="The default account."))
    for account in stub.accounts:
        # At run time functions, paginate and helpers are looked up before accounts: such an account is hidden.
        hidden = functions_named | {"paginate", "default"} | {str(h.get("name")) for h in stub.helpers}
        if is_lua_identifier(account) and account not in hidden:
            out.append(field_line(account, prefix, optional=False, description=f"The account '{account}'."))
    out += [f"local {local} = {{}}", ""]
    for block in functions:
        out += [*block, ""]
    if stub.paginated:
        out += [
            "---Every item of a list function, page after page (follows each page's next link).",
            "---",
            f"---```lua\n---for item in app.integrations.{stub.name}.paginate(\"list_...\") do print(item) end\n---```",
            "---@param name string the list function, by any of its names",
            "---@param args? table its arguments",
            "---@return fun(): any iterator",
            f"function {local}.paginate(name, args) end",
            "",
        ]
    for block in helper_blocks:
        out += [*block, ""]
    return "\n".join(_squeeze(out)).rstrip("\n") + "\n"


def _squeeze(lines: Iterable[str]) -> list[str]:
    """No runs of blank lines (a block may end in one)."""
    out: list[str] = []
    for line in lines:
        for part in line.split("\n"):
            if part == "" and out and out[-1] == "":
                continue
            out.append(part)
    return out
