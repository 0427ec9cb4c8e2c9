"""`kosmo integrations:import --spec FILE --name NAME`: turn an OpenAPI document into a new integration."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DESCRIPTION = """\
Make a new integration from an OpenAPI 3.0 or 3.1 document (JSON or YAML). The folder goes to
$KOSMO_HOME/integrations/NAME (default ~/.kosmo/integrations/NAME), where scripts find it as
app.integrations.NAME. Base URL and auth come from the document's servers and securitySchemes unless given here.
Lua names (from each operationId, else its title) are written to names.yaml, where they can be changed.
"""

EPILOG = """\
Examples:
  kosmo integrations:import --spec petstore.yaml --name petstore
  kosmo integrations:import --spec api.json --name notes --base-url https://notes.example.com/v1 --auth header:X-Api-Key
  kosmo integrations:configure notes --set api_key=env:NOTES_TOKEN
  kosmo integrations:lua --eval 'dump(app.integrations.notes.list_notes({}))'
"""

_PROG = "kosmo integrations:import"


def build_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--spec", required=True, metavar="FILE", help="the OpenAPI document")
    p.add_argument("--name", required=True, metavar="NAME", help="the integration's name (lower case, e.g. petstore)")
    p.add_argument("--base-url", metavar="URL", help="where the API lives (default: the document's first server)")
    p.add_argument("--auth", metavar="SCHEME",
                   help="bearer, basic, header:NAME, query:NAME or cookie:NAME (default: from the document's "
                        "securitySchemes)")
    p.add_argument("--skip", action="append", default=[], metavar="OPERATION_ID",
                   help="leave an operation out (repeatable), e.g. one whose body type is not supported")
    p.add_argument("--force", action="store_true", help="replace an integration of the same name imported before")
    return p


def run(ns: argparse.Namespace) -> int:
    from ..errors import ConfigError, UsageError
    from ..importer import credential_fields, import_spec

    spec = Path(ns.spec)
    if not spec.is_file():
        sys.stderr.write(f"{_PROG}: no such file '{ns.spec}'\n")
        return 2
    try:
        result = import_spec(spec, ns.name, base_url=ns.base_url, auth=ns.auth, force=ns.force,
                             skip=tuple(ns.skip))
    except UsageError as exc:
        sys.stderr.write(f"{_PROG}: {exc}\n")
        return 2
    except ConfigError as exc:
        message = str(exc)
        if message.startswith("operation "):
            # Nothing was written, so names.yaml cannot be edited yet: the option does what the message asks.
            op_id = message.split(" ", 2)[1]
            message += f" (import again with --skip {op_id} to leave it out)"
        sys.stderr.write(f"{_PROG}: {message}\n")
        return 1
    except OSError as exc:
        sys.stderr.write(f"{_PROG}: cannot write the integration: {exc}\n")
        return 1
    shown = ", ".join(result.functions[:8]) + (", ..." if len(result.functions) > 8 else "")
    print(f"imported {result.name}: {result.operations} operations ({shown})")
    print(f"folder: {result.folder}")
    print(f"base URL: {result.base_url or '(none)'}; auth: {result.auth}")
    for note in result.notes:
        print(f"note: {note}")
    settings = " ".join(f"--set {f}=..." for f in credential_fields(result.auth))
    print(f"next: kosmo integrations:configure {result.name} {settings}   then   "
          f"kosmo integrations:docs {result.name}")
    return 0
