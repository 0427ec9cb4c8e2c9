"""Docs pages rendered from an integration's operation table (and its hand-written overview and helpers).

The same pages serve ``docs.read`` inside Lua, the agent docs tools, the MCP resources and the generated files in
``docs/reference/`` (``kosmo integrations:render-docs``), so every place shows the same parameter tables.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .rules import describe_rule
from .table import Body, BodyField, Operation, Param
from .validate import ENGINE_ARGUMENTS, engine_argument_names

if TYPE_CHECKING:
    from ..registry import LoadedIntegration
    from ..stdlib.docs import DocPage

__all__ = ["integration_pages", "operation_page_body", "overview_page_body", "helper_specs", "render_reference",
           "lua_type"]

_RETURNS = {
    "json": "the decoded JSON response as a table (JSON null fields are absent: `if x.error then` is false when "
            "the API sent null)",
    "empty": "an empty table (the API answers 204 No Content)",
    "text": "`{ body = <string>, content_type = <string> }`",
    "binary": "`{ body = <bytes as a Lua string>, content_type = <string> }`",
    "media": "`{ content_type, body_base64, ... }` (with `save_to = \"path\"`: `{ path, content_type, bytes, ... }`)",
}


def lua_type(type_: str, items: str | None = None) -> str:
    """The type as a Lua user reads it."""
    mapping = {"string": "string", "integer": "integer", "number": "number", "boolean": "boolean",
               "object": "table", "array": "array", "binary": "file", "any": "any"}
    base = mapping.get(type_, type_)
    if type_ == "array" and items:
        return f"array of {mapping.get(items, items)}"
    return base


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ").strip()


def _num(x: float) -> str:
    """Whole numbers in full (a seed's 4294967294, not 4.29497e+09)."""
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _constraints(enum: tuple[Any, ...], minimum: float | None, maximum: float | None, default: Any,
                 pattern: str | None = None, min_length: int | None = None, max_length: int | None = None) -> str:
    bits = []
    if enum:
        bits.append("one of " + ", ".join(f"`{e}`" for e in enum))
    if minimum is not None and maximum is not None:
        bits.append(f"{_num(minimum)} to {_num(maximum)}")
    elif minimum is not None:
        bits.append(f">= {_num(minimum)}")
    elif maximum is not None:
        bits.append(f"<= {_num(maximum)}")
    if min_length is not None and max_length is not None:
        bits.append(f"{min_length} to {max_length} characters")
    elif max_length is not None:
        bits.append(f"at most {max_length} characters")
    elif min_length:
        bits.append(f"at least {min_length} characters")
    if pattern:
        bits.append(f"pattern `{pattern}`")
    if default not in (None, "", {}, []):
        bits.append(f"default `{default}`")
    return "; ".join(bits)


def _param_rows(params: tuple[Param, ...]) -> list[str]:
    rows = ["| name | where | type | required | description |", "|---|---|---|---|---|"]
    for p in params:
        name = f"`{p.lua_name}`" + (f" (`{p.name}`)" if p.lua_name != p.name else "")
        desc = p.description
        extra = _constraints(p.enum, p.minimum, p.maximum, p.default, p.pattern, p.min_length, p.max_length)
        sent = _sent_as(p)
        if sent:
            extra = f"{extra}; {sent}" if extra else sent
        if extra:
            desc = f"{desc} ({extra})" if desc else extra
        rows.append(f"| {name} | {p.location} | {lua_type(p.type, p.items)} | {'yes' if p.required else 'no'} | "
                    f"{_cell(desc)} |")
    return rows


def _sent_as(p: Param) -> str:
    """How an array or object parameter travels, when that is not the usual repeated query key."""
    from .styles import explode_of, style_of

    if p.type not in ("array", "object") and not p.style:
        return ""
    style, explode = style_of(p), explode_of(p)
    if style == "json":
        return "sent as JSON text"
    if p.type == "array" and p.location == "query" and style == "form" and explode:
        return ""  # the default every page already implies: the key repeats
    obj = p.type == "object"
    if style == "deepObject":
        return f"sent as `{p.name}[key]=value`"
    if p.location == "query" and style == "form" and explode:
        return "each key is sent as its own query parameter" if obj else ""
    if p.location == "cookie" and explode:
        return "each key is sent as its own cookie" if obj else f"each value is sent as a `{p.name}` cookie"
    joiner = {"spaceDelimited": "spaces", "pipeDelimited": "`|`"}.get(style, "commas")
    if style == "label":
        return f"sent as `.value` (label style{', exploded' if explode else ''})"
    if style == "matrix":
        return f"sent as `;{p.name}=value` (matrix style{', exploded' if explode else ''})"
    if obj:
        return f"sent as keys and values joined by {joiner}" + (" (`key=value`)" if explode else "")
    return f"values joined by {joiner}"


def _field_rows(fields: tuple[BodyField, ...]) -> list[str]:
    rows = ["| field | type | required | description |", "|---|---|---|---|"]
    for f in fields:
        desc = f.description
        extra = _constraints(f.enum or f.items_enum, f.minimum, f.maximum, f.default, f.pattern, f.min_length,
                             f.max_length)
        if extra:
            desc = f"{desc} ({extra})" if desc else extra
        rows.append(f"| `{f.name}` | {lua_type(f.type, f.items)} | {'yes' if f.required else 'no'} | {_cell(desc)} |")
    return rows


def _body_section(body: Body) -> list[str]:
    out = ["", "## Body", ""]
    kind = {"json": "JSON", "text": "plain text", "multipart": "multipart/form-data",
            "form": "application/x-www-form-urlencoded", "binary": body.content_type}[body.encoding]
    need = "required" if body.required else "optional"
    if body.encoding == "binary":
        out.append(f"A {need} file sent as the raw body (`{kind}`), passed as `body = ...`: a local path, raw bytes, "
                   "`{ content = ..., filename = ..., content_type = ... }`, or the table another call returned. "
                   f"{body.description}".rstrip())
        return out
    if body.encoding == "text":
        out.append(f"A {need} {kind} string, passed as `body = \"...\"`. {body.description}".rstrip())
        return out
    out.append(f"Sent as {kind} ({need}). Pass the fields directly in the argument table, or all together as "
               f"`body = {{ ... }}`.")
    if body.fields:
        out += [""] + _field_rows(body.fields)
    if body.encoding == "multipart" and any(f.type == "binary" for f in body.fields):
        out += ["", "A `file` field takes a local path, raw bytes, `{ content = ..., filename = ..., "
                    "content_type = ... }`, or the table another call returned for an image."]
    if not body.additional_properties:
        out += ["", "No other fields are accepted."]
    return out


def operation_page_body(integration: str, op: Operation) -> str:
    names = ", ".join(f"`{n}`" for n in op.names)
    lines = [f"# {integration}.{op.name}", "", op.summary, ""]
    if op.description:
        lines += [op.description, ""]
    lines += [
        f"- Call: `app.integrations.{integration}.{op.name}({{ ... }})`; answers to {names} "
        f"(full name `{op.full_name}`).",
        f"- Access: **{op.access}** ({'allowed by default' if op.access == 'read' else 'asks by default: run with --force or allow writes'}).",
        f"- HTTP: `{op.method} {op.path}`" + ("" if op.auth else " (no authentication needed)"),
    ]
    if op.params:
        lines += ["", "## Parameters", ""] + _param_rows(op.params)
    elif op.body is None:
        lines += ["", "## Parameters", "", "None: call it with `{}`."]
    if op.body is not None:
        lines += _body_section(op.body)
    if op.rules:
        lines += ["", "Rules between the arguments, checked before anything is sent:", ""]
        lines += [f"- {describe_rule(op, rule)}" for rule in op.rules]
    engine_args = engine_argument_names(op.response)
    if engine_args:
        lines += ["", "## Result options", "", "Arguments the engine handles itself; they are never sent to the API.",
                  "", "| name | type | description |", "|---|---|---|"]
        for name in engine_args:
            type_, description = ENGINE_ARGUMENTS[name]
            if name == "accept" and op.response.accept:
                description += " (" + ", ".join(f"`{a}`" for a in op.response.accept) + ")"
            lines.append(f"| `{name}` | {type_} | {_cell(description)} |")
    if op.example:
        lines += ["", "## Example", "", "```lua", op.example.rstrip(), "```"]
    lines += ["", "## Returns", "", _RETURNS.get(op.response.kind, op.response.kind) + "."]
    if op.response.description:
        lines += ["", op.response.description]
    lines += ["", "Errors are raised as tables with `status`, `message` and `operation` (see `docs.read(\"errors\")`)."]
    return "\n".join(lines) + "\n"


def helper_specs(loaded: "LoadedIntegration") -> list[dict[str, Any]]:
    """Helpers beyond the API, described as data in ``helpers.yaml`` beside the integration."""
    path = loaded.info.folder / "helpers.yaml"
    if not path.exists():
        return []
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return list(data.get("helpers") or [])


def _helper_body(integration: str, spec: dict[str, Any]) -> str:
    lines = [f"# {integration}.{spec['name']}", "", str(spec.get("summary", "")).strip(), ""]
    if spec.get("description"):
        lines += [str(spec["description"]).strip(), ""]
    lines.append(f"- Call: `app.integrations.{integration}.{spec['name']}(...)` (a helper; it makes the API calls "
                 f"it needs, each subject to the usual permissions).")
    params = spec.get("params") or []
    if params:
        lines += ["", "## Parameters", "", "| name | type | required | description |", "|---|---|---|---|"]
        for p in params:
            lines.append(f"| `{p['name']}` | {_cell(p.get('type', 'any'))} | {'yes' if p.get('required') else 'no'} | "
                         f"{_cell(p.get('description', ''))} |")
    if spec.get("example"):
        lines += ["", "## Example", "", "```lua", str(spec["example"]).rstrip(), "```"]
    if spec.get("returns"):
        lines += ["", "## Returns", "", str(spec["returns"]).strip()]
    return "\n".join(lines) + "\n"


def overview_page_body(loaded: "LoadedIntegration") -> str:
    info, table = loaded.info, loaded.table
    overview = info.folder / "overview.md"
    lines = [overview.read_text(encoding="utf-8").rstrip() if overview.exists() else f"# {info.title}\n\n{info.summary}"]
    families: dict[str, list[Operation]] = {}
    for op in table.operations:
        families.setdefault(op.family or "other", []).append(op)
    lines += ["", "## Functions", "",
              f"Every function takes one table of arguments. `docs.read(\"{info.name}.<function>\")` shows its "
              "parameters. Names in parentheses answer too."]
    for family in sorted(families):
        lines += ["", f"### {family.capitalize()}", ""]
        for op in sorted(families[family], key=lambda o: o.name):
            also = f" (also `{'`, `'.join(op.aliases)}`)" if op.aliases else ""
            lines.append(f"- `{op.name}`{also} [{op.access}]: {op.summary}")
    helpers = helper_specs(loaded)
    if helpers or info.pagination.style != "none":
        lines += ["", "### Helpers", ""]
        if info.pagination.style != "none":
            lines.append("- `paginate(name, args)`: a Lua iterator over every item of a list function, following "
                         "each page's next link: `for m in " + info.name + ".paginate(\"list_models\") do ... end`.")
        for h in helpers:
            lines.append(f"- `{h['name']}`: {h.get('summary', '')}")
    lines += ["", "## Accounts", "",
              f"`app.integrations.{info.name}.<fn>` uses the default account; `app.integrations.{info.name}.<alias>"
              f".<fn>` a named one (`kosmo integrations:configure {info.name} --account <alias> --set "
              + (f"{info.auth.username}=... --set " if info.auth.username else "")
              + f"{info.auth.credential}=...`)."]
    if info.default_env:
        env = ", ".join(f"`{v}`" for v in info.default_env.values())
        lines.append(f"With nothing configured, the default account comes from {env}.")
    return "\n".join(lines) + "\n"


def integration_pages(loaded: "LoadedIntegration") -> list["DocPage"]:
    from ..stdlib.docs import DocPage

    info = loaded.info
    pages = [DocPage(name=info.name, title=info.title, summary=info.summary, body=overview_page_body(loaded),
                     aliases=(f"integrations.{info.name}",), namespace=info.name)]
    for op in loaded.table.operations:
        aliases = tuple(f"{info.name}.{a}" for a in op.aliases) + (op.full_name,)
        pages.append(DocPage(name=f"{info.name}.{op.name}", title=f"{info.name}.{op.name}", summary=op.summary,
                             body=operation_page_body(info.name, op), aliases=aliases, namespace=info.name))
    for spec in helper_specs(loaded):
        pages.append(DocPage(name=f"{info.name}.{spec['name']}", title=f"{info.name}.{spec['name']}",
                             summary=str(spec.get("summary", "")), body=_helper_body(info.name, spec),
                             namespace=info.name))
    return pages


GENERATED_MARK = ("<!-- GENERATED by `kosmo integrations:render-docs` from integrations/{name}/ "
                  "(operations.yaml, overview.md, helpers.yaml). DO NOT EDIT. -->")


def render_reference(loaded: "LoadedIntegration") -> str:
    """One markdown file holding every page of an integration, for docs/reference/<name>.md."""
    pages = integration_pages(loaded)
    parts = [GENERATED_MARK.format(name=loaded.info.name), ""]
    for page in pages:
        body = page.body.rstrip()
        if page is not pages[0]:
            body = "\n".join("#" + line if line.startswith("#") else line for line in body.splitlines())
        parts += [body, ""]
    return "\n".join(parts).rstrip() + "\n"


def reference_path(docs_dir: Path, name: str) -> Path:
    return docs_dir / "reference" / f"{name}.md"
