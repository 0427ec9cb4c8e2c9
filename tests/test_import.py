"""`kosmo integrations:import` end to end: two hand-written documents of different shape become integrations, and
scripts call them against a loopback server (written here, http.server in a thread) that records every request.

* shelter-3.0.yaml: OpenAPI 3.0 YAML, apiKey header auth (also declared as a parameter, which must be dropped),
  path-level parameters, $refs to parameters / request bodies / responses / schemas, JSON and text bodies, an
  operation without operationId that needs no credentials.
* darkroom-3.1.json: OpenAPI 3.1 JSON, bearer auth plus a query-token variant, server variables, multipart and
  form-urlencoded bodies, a media response, a text response.
* bazaar-3.1.yaml: OpenAPI 3.1 YAML, HTTP basic auth plus an apiKey-cookie variant, query parameters in every style,
  header / path arrays, label and matrix paths, cookie parameters, binary request bodies.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "import"
SHELTER = FIXTURES / "shelter-3.0.yaml"
DARKROOM = FIXTURES / "darkroom-3.1.json"
BAZAAR = FIXTURES / "bazaar-3.1.yaml"
KOSMO = [sys.executable, "-m", "kosmo_lua"]
PNG = b"\x89PNG\r\n\x1a\n-preview-"


# -- a recording loopback server -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    raw_query: str = ""  # the query string exactly as it arrived

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode("ascii"), keep_blank_values=True)

    def multipart(self) -> dict[str, tuple[str | None, str, bytes]]:
        """name -> (filename, content type, content)."""
        head = f"Content-Type: {self.headers['content-type']}\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + self.body)
        out = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            out[name] = (part.get_filename(), part.get_content_type(), part.get_payload(decode=True))
        return out


Route = tuple[int, str, bytes]  # status, content type, body


class Recorder:
    """Answers from a route table keyed by (method, path) and keeps every request it was sent."""

    def __init__(self, routes: dict[tuple[str, str], Route]) -> None:
        self.routes = routes
        self.seen: list[Seen] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _any(self) -> None:
                target = urlsplit(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                recorder.seen.append(Seen(self.command, target.path, parse_qs(target.query, keep_blank_values=True),
                                          {k.lower(): v for k, v in self.headers.items()}, body, target.query))
                status, ctype, payload = recorder.routes.get(
                    (self.command, target.path), (404, "application/json", b'{"message": "no such route"}'))
                self.send_response(status)
                if status != 204:
                    self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(0 if status == 204 else len(payload)))
                self.end_headers()
                if status != 204:
                    self.wfile.write(payload)

            do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _any

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def by(self, method: str, path: str) -> Seen:
        found = [s for s in self.seen if (s.method, s.path) == (method, path)]
        assert len(found) == 1, f"expected one {method} {path}, saw {[(s.method, s.path) for s in self.seen]}"
        return found[0]


def _json(value: Any, status: int = 200) -> Route:
    return status, "application/json", json.dumps(value).encode()


@pytest.fixture
def server() -> Iterator[Recorder]:
    rec = Recorder({})
    yield rec
    rec.stop()


# -- running kosmo as a user does ----------------------------------------------------------------------------------

@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def kosmo(home: Path, *args: str, cwd: Path | None = None,
          extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KOSMO_", "SHELTER_", "DARKROOM_", "BAZAAR_"))}
    env["KOSMO_HOME"] = str(home)
    env.update(extra_env or {})
    return subprocess.run([*KOSMO, *args], capture_output=True, text=True, env=env, cwd=cwd or home.parent,
                          timeout=60, stdin=subprocess.DEVNULL)


def lua(home: Path, code: str) -> dict[str, Any]:
    proc = kosmo(home, "integrations:lua", "--json", "--force", "--eval", code)
    envelope = json.loads(proc.stdout)
    assert envelope["success"], envelope["error"]
    return envelope


def imported(home: Path, spec: Path, name: str, *extra: str) -> str:
    proc = kosmo(home, "integrations:import", "--spec", str(spec), "--name", name, *extra)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def configure(home: Path, name: str, url: str, key: str) -> None:
    proc = kosmo(home, "integrations:configure", name, "--set", f"url={url}", "--set", f"api_key={key}")
    assert proc.returncode == 0, proc.stderr


# -- OpenAPI 3.0, YAML, apiKey header --------------------------------------------------------------------------------

def test_shelter_yaml_30_end_to_end(home: Path, server: Recorder) -> None:
    out = imported(home, SHELTER, "shelter")
    assert "imported shelter: 6 operations" in out and "auth: header:X-Shelter-Key" in out
    folder = home / "integrations" / "shelter"
    assert sorted(p.name for p in folder.iterdir()) == [
        "integration.yaml", "names.yaml", "openapi.yaml", "operations.yaml", "overview.md"]
    assert "base_url: https://shelter.invalid/api/v2" in (folder / "integration.yaml").read_text()

    server.routes.update({
        ("GET", "/api/v2/pets"): _json([{"id": 1, "name": "Tom", "species": "cat"}]),
        ("POST", "/api/v2/pets"): _json({"id": 42, "name": "Mog", "species": "cat"}, 201),
        ("GET", "/api/v2/pets/7"): _json({"id": 7, "name": "Felix", "species": "cat"}),
        ("POST", "/api/v2/pets/7/notes"): (200, "text/plain", b"noted: likes boxes"),
        ("DELETE", "/api/v2/pets/7"): (204, "", b""),
        ("GET", "/api/v2/health"): _json({"ok": True}),
    })
    configure(home, "shelter", server.url + "/api/v2", "shelter-secret")
    env = lua(home, """
        local s = app.integrations.shelter
        local page = s.list_pets({ limit = 5, species = "cat" })
        local created = s.create_pet({ name = "Mog", species = "cat", tags = { "calm" } })
        local one = s.show_one_animal({ petId = 7 })          -- the title-derived alias answers too
        local note = s.add_pet_note({ petId = 7, body = "likes boxes" })
        local gone = s.delete_pet({ petId = 7 })
        local health = s.check_service_health()
        local ok, err = pcall(s.create_pet, { name = "Rex", species = "lizard" })
        return { count = #page, first = page[1].name, created = created.id, one = one.name, note = note.body,
                 gone = next(gone) == nil, health = health.ok, refused = not ok and err.kind,
                 problem = err.problems[1] }
    """)
    result = env["result"][0]
    assert result == {"count": 1, "first": "Tom", "created": 42, "one": "Felix", "note": "noted: likes boxes",
                      "gone": True, "health": True, "refused": "argument",
                      "problem": result["problem"]}
    assert "lizard" in result["problem"] and "cat" in result["problem"]

    listing = server.by("GET", "/api/v2/pets")
    assert listing.query == {"limit": ["5"], "species": ["cat"]}
    assert listing.headers["x-shelter-key"] == "shelter-secret"  # from the account, not an argument
    assert "authorization" not in listing.headers
    created = server.by("POST", "/api/v2/pets")
    assert created.headers["content-type"] == "application/json"
    assert created.json() == {"name": "Mog", "species": "cat", "tags": ["calm"]}
    note = server.by("POST", "/api/v2/pets/7/notes")
    assert note.headers["content-type"].startswith("text/plain") and note.body == b"likes boxes"
    assert server.by("DELETE", "/api/v2/pets/7").headers["x-shelter-key"] == "shelter-secret"
    assert "x-shelter-key" not in server.by("GET", "/api/v2/health").headers  # security: [] sends no key
    assert len(server.seen) == 6  # the bad species was refused before anything was sent


def test_shelter_key_parameter_is_left_to_the_engine(home: Path) -> None:
    imported(home, SHELTER, "shelter")
    env = lua(home, """
        local ok, err = pcall(app.integrations.shelter.list_pets, { x_shelter_key = "typed-by-hand" })
        return err.kind, err.message
    """)
    kind, message = env["result"]
    assert kind == "argument" and "x_shelter_key" in message


# -- OpenAPI 3.1, JSON, bearer and query auth, multipart and form bodies -------------------------------------------

DARKROOM_SCRIPT = """
    local d = %s
    local p = d.upload_print({ photo = { content = "\\137PNG fake", filename = "cat.png" }, paper = "glossy",
                               copies = 2 })
    local o = d.place_order({ print_id = p.id, quantity = 3, express = true })
    local prev = d.get_print_preview({ printId = p.id, width = 64 })
    local status = d.lab_status()
    local got = d.get_print({ printId = p.id })
    return { print = p.id, order = o.total_cents, preview_type = prev.content_type,
             preview_base64 = prev.body_base64, status = status.body, paper = got.paper }
"""


def _darkroom_routes(server: Recorder) -> None:
    server.routes.update({
        ("POST", "/v1/prints"): _json({"id": "pr_1", "paper": "glossy", "copies": 2}, 201),
        ("GET", "/v1/prints/pr_1"): _json({"id": "pr_1", "paper": "glossy", "copies": 2}),
        ("POST", "/v1/orders"): _json({"id": "or_1", "total_cents": 1350}),
        ("GET", "/v1/prints/pr_1/preview"): (200, "image/png", PNG),
        ("GET", "/v1/status"): (200, "text/plain", b"open"),
    })


def test_darkroom_json_31_bearer_multipart_form(home: Path, server: Recorder) -> None:
    import base64

    out = imported(home, DARKROOM, "darkroom")
    assert "base URL: https://eu.darkroom.invalid/v1; auth: bearer" in out  # server variable at its default
    _darkroom_routes(server)
    configure(home, "darkroom", server.url + "/v1", "dr-token")
    result = lua(home, DARKROOM_SCRIPT % "app.integrations.darkroom")["result"][0]
    assert result == {"print": "pr_1", "order": 1350, "preview_type": "image/png",
                      "preview_base64": base64.b64encode(PNG).decode(), "status": "open", "paper": "glossy"}

    upload = server.by("POST", "/v1/prints")
    assert upload.headers["authorization"] == "Bearer dr-token"
    assert upload.headers["content-type"].startswith("multipart/form-data; boundary=")
    parts = upload.multipart()
    assert parts["photo"] == ("cat.png", "image/png", b"\x89PNG fake")
    assert parts["paper"][2] == b"glossy" and parts["copies"][2] == b"2"
    assert "caption" not in parts
    order = server.by("POST", "/v1/orders")
    assert order.headers["content-type"] == "application/x-www-form-urlencoded"
    assert order.form() == {"print_id": ["pr_1"], "quantity": ["3"], "express": ["true"]}
    assert server.by("GET", "/v1/prints/pr_1/preview").query == {"width": ["64"]}
    assert "authorization" not in server.by("GET", "/v1/status").headers  # security: [{}]


def test_darkroom_query_token_variant_and_named_account(home: Path, server: Recorder) -> None:
    out = imported(home, DARKROOM, "darkroom_q", "--auth", "query:access_token")
    assert "auth: query:access_token" in out
    _darkroom_routes(server)
    proc = kosmo(home, "integrations:configure", "darkroom_q", "--account", "lab", "--set",
                 f"url={server.url}/v1", "--set", "api_key=q-secret")
    assert proc.returncode == 0, proc.stderr
    result = lua(home, DARKROOM_SCRIPT % "app.integrations.darkroom_q.lab")["result"][0]
    assert result["order"] == 1350 and result["status"] == "open"
    for seen in server.seen:
        assert "authorization" not in seen.headers
        if seen.path == "/v1/status":
            assert "access_token" not in seen.query
        else:
            assert seen.query["access_token"] == ["q-secret"], seen.path


# -- refusals and the files written ------------------------------------------------------------------------------------

def test_existing_folder_needs_force_and_force_replaces(home: Path) -> None:
    imported(home, SHELTER, "pets")
    again = kosmo(home, "integrations:import", "--spec", str(DARKROOM), "--name", "pets")
    assert again.returncode == 2 and "--force" in again.stderr
    assert (home / "integrations" / "pets" / "openapi.yaml").is_file()  # untouched
    imported(home, DARKROOM, "pets", "--force")
    folder = home / "integrations" / "pets"
    assert (folder / "openapi.json").is_file() and not (folder / "openapi.yaml").exists()
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no staging folders left


@pytest.mark.parametrize("name, message", [
    ("replicate", "bundled integration"),
    ("json", "taken by the library"),
    ("Bad-Name", "lower case"),
])
def test_names_that_are_refused(home: Path, name: str, message: str) -> None:
    proc = kosmo(home, "integrations:import", "--spec", str(SHELTER), "--name", name)
    assert proc.returncode == 2 and message in proc.stderr
    assert not (home / "integrations" / name).exists()


def test_bad_options_and_documents(home: Path, tmp_path: Path) -> None:
    proc = kosmo(home, "integrations:import", "--spec", str(SHELTER), "--name", "x1", "--auth", "digest")
    assert proc.returncode == 2 and "bearer, basic, header:NAME, query:NAME or cookie:NAME" in proc.stderr
    swagger = tmp_path / "old.json"
    swagger.write_text('{"swagger": "2.0", "paths": {}}')
    proc = kosmo(home, "integrations:import", "--spec", str(swagger), "--name", "x2")
    assert proc.returncode == 1 and "OpenAPI 3.0 and 3.1" in proc.stderr
    assert not (home / "integrations" / "x2").exists()


RAW_BODY = """\
openapi: 3.0.0
info: {title: Raw, version: "1"}
paths:
  /upload:
    put:
      operationId: putRaw
      requestBody:
        content:
          application/xml:
            schema: {type: object, properties: {name: {type: string}}}
      responses: {"204": {description: stored}}
  /ok:
    get:
      operationId: getOk
      responses: {"200": {description: fine}}
"""


def test_unsupported_operation_can_be_skipped(home: Path, tmp_path: Path) -> None:
    spec = tmp_path / "raw.yaml"
    spec.write_text(RAW_BODY)
    proc = kosmo(home, "integrations:import", "--spec", str(spec), "--name", "raw")
    assert proc.returncode == 1 and "application/xml" in proc.stderr and "--skip putRaw" in proc.stderr
    assert not (home / "integrations" / "raw").exists()
    out = imported(home, spec, "raw", "--skip", "putRaw")
    assert "1 operations (get_ok)" in out and "no absolute server URL" in out


def test_names_are_editable_data_and_regenerate(home: Path) -> None:
    imported(home, SHELTER, "shelter")
    folder = home / "integrations" / "shelter"
    names = folder / "names.yaml"
    names.write_text(names.read_text().replace("name: list_pets", "name: all_pets"))
    proc = kosmo(home, "integrations:generate", "shelter", "--spec", str(folder / "openapi.yaml"))
    assert proc.returncode == 0, proc.stderr
    env = lua(home, "return app.integrations.shelter.all_pets ~= nil, pcall(function() "
                    "return app.integrations.shelter.list_pets end)")
    assert env["result"][:2] == [True, False]


def test_derived_names_and_document_reading() -> None:
    from kosmo_lua.importer import auth_of, base_url_of, derive_names

    spec = {"openapi": "3.1.0", "paths": {
        "/a/{id}": {"get": {"operationId": "getThingById"}, "post": {"summary": "Make a new thing"},
                    "delete": {}},
        "/b": {"get": {"operationId": "get-thing-by-id"}, "put": {"operationId": "end"},
               "patch": {"operationId": "3d-model"}},
    }}
    assert derive_names(spec) == {
        "getThingById": "get_thing_by_id", "post_a_id": "make_new_thing", "delete_a_id": "delete_a_id",
        "get-thing-by-id": "get_thing_by_id_2", "end": "end_", "3d-model": "op_3d_model"}
    assert base_url_of({"servers": [{"url": "/relative"}]}) is None
    assert base_url_of({"servers": [{"url": "https://{host}/v2/", "variables": {"host": {"default": "x.io"}}}]}) \
        == "https://x.io/v2"
    oauth = {"components": {"securitySchemes": {"o": {"type": "oauth2"}}}}
    assert auth_of(oauth)[0] == "bearer" and "oauth2" in (auth_of(oauth)[1] or "")
    basic = {"components": {"securitySchemes": {"b": {"type": "http", "scheme": "basic"}}}}
    assert auth_of(basic) == ("basic", None)
    cookie = {"components": {"securitySchemes": {"c": {"type": "apiKey", "in": "cookie", "name": "sid"}}}}
    assert auth_of(cookie) == ("cookie:sid", None)
    digest = {"components": {"securitySchemes": {"d": {"type": "http", "scheme": "digest"}}}}
    assert auth_of(digest) == ("bearer", auth_of(digest)[1]) and "--auth" in (auth_of(digest)[1] or "")
    assert auth_of({}) == ("bearer", None)


def test_imported_integration_gets_editor_annotations(home: Path, tmp_path: Path) -> None:
    imported(home, SHELTER, "shelter")
    proc = kosmo(home, "integrations:configure", "shelter", "--account", "branch2", "--set",
                 "url=http://127.0.0.1:9/api")
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "stubs"
    proc = kosmo(home, "integrations:stubs", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    text = (out / "shelter.gen.lua").read_text()
    assert "---@field branch2 kosmo.shelter" in text  # the account sub-namespace, typed as the namespace
    assert "---@field species kosmo.shelter.species" in text
    assert '---@alias kosmo.shelter.species "cat"|"dog"|"rabbit"' in text
    assert "---@field shelter kosmo.shelter" in (out / "kosmo.gen.lua").read_text()


# -- OpenAPI 3.1, basic auth / cookie auth, parameter styles, cookies, binary bodies ------------------------------

BAZAAR_SCRIPT = r"""
    local b = %s
    local stalls = b.list_stalls({ tag = { "a", "b c" }, color = { "red", "blue" }, size = { "S", "M" },
                                   mark = { "x", "y" }, filter = { material = "wool", max_price = 9.5 },
                                   near = { lat = 51.5, lon = -0.12 }, sort = "name", x_stall_ids = { 3, 4 },
                                   lang = "en-GB", seen = { "a b", "c" } })
    local goods = b.list_goods({ stall_ids = { 3, 4 }, where = { kind = "lamp" } })
    local bins = b.get_bins({ codes = { "a", "b/c" } })
    local rack = b.get_rack({ rack = { row = 2, shelf = "top" } })
    local photo = b.upload_stall_photo({ stall_id = 7, body = "photo.bin" })
    local sketch = b.upload_stall_sketch({ stall_id = 7, body = { content = "\137PNG\r\n\26\n-sketch-" } })
    local receipt = b.upload_receipt({ body = { content = "%%PDF-1.7 receipt", filename = "r.pdf" } })
    local me = b.who_am_i()
    return { stalls = #stalls, goods = #goods, bins = bins.ok, rack = rack.ok, photo = photo.bytes,
             sketch = sketch.content_type, receipt = next(receipt) == nil, me = me.user }
"""
PHOTO = b"\x00\x01raw photo\xff"
SKETCH = b"\x89PNG\r\n\x1a\n-sketch-"


def _bazaar_routes(server: Recorder) -> None:
    server.routes.update({
        ("GET", "/api/stalls"): _json([{"id": 3, "name": "Lamps"}]),
        ("GET", "/api/stalls/3,4/goods"): _json([{"kind": "lamp"}, {"kind": "lamp"}]),
        ("GET", "/api/bins/.a.b%2Fc"): _json({"ok": "bins"}),
        ("GET", "/api/racks/;rack=row,2,shelf,top"): _json({"ok": "rack"}),
        ("PUT", "/api/stalls/7/photo"): _json({"bytes": len(PHOTO), "content_type": "application/octet-stream"}),
        ("POST", "/api/stalls/7/sketch"): _json({"bytes": len(SKETCH), "content_type": "image/png"}, 201),
        ("POST", "/api/receipts"): (204, "", b""),
        ("GET", "/api/whoami"): _json({"user": "ann"}),
    })


def test_bazaar_styles_cookies_binary_bodies_and_basic_auth(home: Path, server: Recorder) -> None:
    import base64

    out = imported(home, BAZAAR, "bazaar")
    assert "auth: basic" in out and "--set username=... --set password=..." in out
    integration = (home / "integrations" / "bazaar" / "integration.yaml").read_text()
    assert "scheme: basic" in integration and "username: BAZAAR_USERNAME" in integration
    _bazaar_routes(server)
    proc = kosmo(home, "integrations:configure", "bazaar", "--set", f"url={server.url}/api", "--set",
                 "username=ann", "--set", "password=pa:ss wörd")
    assert proc.returncode == 0, proc.stderr
    (home.parent / "photo.bin").write_bytes(PHOTO)
    result = lua(home, BAZAAR_SCRIPT % "app.integrations.bazaar")["result"][0]
    assert result == {"stalls": 1, "goods": 2, "bins": "bins", "rack": "rack", "photo": len(PHOTO),
                      "sketch": "image/png", "receipt": True, "me": "ann"}

    basic = "Basic " + base64.b64encode("ann:pa:ss wörd".encode()).decode()
    assert all(seen.headers["authorization"] == basic for seen in server.seen)
    listing = server.by("GET", "/api/stalls")
    assert listing.raw_query == ("tag=a&tag=b%20c&color=red,blue&size=S%20M&mark=x%7Cy&filter%5Bmaterial%5D=wool"
                                 "&filter%5Bmax_price%5D=9.5&lat=51.5&lon=-0.12&sort=name")
    assert listing.headers["x-stall-ids"] == "3,4"
    assert listing.headers["cookie"] == "lang=en-GB; seen=a%20b,c"
    goods = server.by("GET", "/api/stalls/3,4/goods")
    assert goods.raw_query == "where=%7B%22kind%22%3A%22lamp%22%7D" and "cookie" not in goods.headers
    photo = server.by("PUT", "/api/stalls/7/photo")
    assert (photo.body, photo.headers["content-type"]) == (PHOTO, "application/octet-stream")
    sketch = server.by("POST", "/api/stalls/7/sketch")
    assert (sketch.body, sketch.headers["content-type"]) == (SKETCH, "image/png")  # image/*: the file's own type
    receipt = server.by("POST", "/api/receipts")
    assert (receipt.body, receipt.headers["content-type"]) == (b"%PDF-1.7 receipt", "application/pdf")
    assert len(server.seen) == 8


def test_bazaar_arguments_that_a_style_cannot_carry_are_refused(home: Path, server: Recorder) -> None:
    imported(home, BAZAAR, "bazaar")
    configure(home, "bazaar", server.url + "/api", "unused")
    env = lua(home, r"""
        local b = app.integrations.bazaar
        local messages = {}
        for _, args in ipairs({
            { color = { "red,blue" } },                 -- a comma inside a comma-joined value
            { filter = { material = { "wool" } } },     -- a table inside a deepObject
            { x_stall_ids = { 3, "x\ny" } },            -- not an integer, and a header cannot hold it anyway
        }) do
            local ok, err = pcall(b.list_stalls, args)
            messages[#messages + 1] = (not ok) and tostring(err) or "sent"
        end
        for _, call in ipairs({
            function() return b.list_goods({ stall_ids = {} }) end,
            function() return b.upload_stall_photo({ stall_id = 7 }) end,
            function() return b.upload_stall_photo({ stall_id = 7, body = 42 }) end,
            function() return b.upload_stall_photo({ stall_id = 7, body = "no-such-file.bin" }) end,
        }) do
            local ok, err = pcall(call)
            messages[#messages + 1] = (not ok) and tostring(err) or "sent"
        end
        return messages
    """)
    messages = env["result"][0]
    assert all("list_stalls" in m for m in messages[:3]) and all("upload_stall_photo" in m for m in messages[4:])
    assert "parameter 'color' cannot send \"red,blue\": its values are joined by ','" in messages[0]
    assert "parameter 'filter.material' expects a string, number or boolean" in messages[1]
    assert "parameter 'x_stall_ids'[2] expects an integer" in messages[2]
    assert "list_goods" in messages[3] and "parameter 'stall_ids' must not be empty" in messages[3]
    assert "missing required parameter 'body' (body, file sent as application/octet-stream)" in messages[4]
    assert "parameter 'body' expects a file (a path, raw bytes" in messages[5]
    assert "parameter 'body': no such file 'no-such-file.bin'" in messages[6]
    assert server.seen == []  # nothing was sent


def test_bazaar_cookie_auth_variant_joins_the_request_cookies(home: Path, server: Recorder) -> None:
    out = imported(home, BAZAAR, "bazaar_c", "--auth", "cookie:bazaar_session")
    assert "auth: cookie:bazaar_session" in out
    _bazaar_routes(server)
    configure(home, "bazaar_c", server.url + "/api", "s3ss;on")
    result = lua(home, """
        local b = app.integrations.bazaar_c
        return b.list_stalls({ lang = "en", seen = { "x" } })[1].name, b.who_am_i().user
    """)["result"]
    assert result == ["Lamps", "ann"]
    assert server.by("GET", "/api/stalls").headers["cookie"] == "lang=en; seen=x; bazaar_session=s3ss;on"
    me = server.by("GET", "/api/whoami")
    assert me.headers["cookie"] == "bazaar_session=s3ss;on" and "authorization" not in me.headers


BASIC_USER = "ann_USER_canary"
BASIC_PASSWORD = "pw_SECRET+canary/42"


def _basic_forms() -> list[str]:
    import base64
    from urllib.parse import quote, quote_plus

    forms = [BASIC_USER, BASIC_PASSWORD, quote(BASIC_PASSWORD, safe=""), quote_plus(BASIC_PASSWORD),
             base64.b64encode(f"{BASIC_USER}:{BASIC_PASSWORD}".encode()).decode()]
    return forms + ["USER_canary", "SECRET+canary"]


def test_bazaar_basic_credentials_never_show(home: Path, server: Recorder) -> None:
    """An API that echoes the credentials back (decoded and encoded) in a 401: neither the user name, the password
    nor the Authorization value reaches the script, the envelope, the debug log or any listing."""
    import base64

    imported(home, BAZAAR, "bazaar")
    token = base64.b64encode(f"{BASIC_USER}:{BASIC_PASSWORD}".encode()).decode()
    echo = {"message": f"bad login for {BASIC_USER} with {BASIC_PASSWORD} (Authorization: Basic {token})"}
    server.routes[("GET", "/api/whoami")] = _json(echo, 401)
    outputs: list[str] = []
    proc = kosmo(home, "integrations:configure", "bazaar", "--account", "shop", "--set", f"url={server.url}/api",
                 "--set", f"password={BASIC_PASSWORD}")
    assert proc.returncode == 0, proc.stderr
    outputs += [proc.stdout, proc.stderr]
    script = """
        local ok, err = pcall(app.integrations.bazaar.shop.who_am_i)
        print(tostring(err))
        return err.kind, err.message
    """
    missing = lua(home, script)  # no user name yet: a clear error that names the field to set
    assert missing["result"][0] == "credentials"
    assert "no username for bazaar account 'shop'" in missing["result"][1]
    assert "--set username=..." in missing["result"][1]
    proc = kosmo(home, "integrations:configure", "bazaar", "--account", "shop", "--set", f"username={BASIC_USER}")
    assert proc.returncode == 0, proc.stderr
    outputs += [proc.stdout, proc.stderr]
    for extra_env in ({}, {"KOSMO_DEBUG": "1"}):
        proc = kosmo(home, "integrations:lua", "--json", "--force", "--eval", script, extra_env=extra_env)
        envelope = json.loads(proc.stdout)
        assert envelope["result"][0] == "http" and "bad login for ***" in envelope["result"][1]
        outputs += [proc.stdout, proc.stderr]
    for args in (("integrations:accounts", "bazaar"), ("integrations:accounts", "--json"),
                 ("integrations:docs", "bazaar")):
        proc = kosmo(home, *args)
        assert proc.returncode == 0, proc.stderr
        outputs += [proc.stdout, proc.stderr]
    assert [seen.headers["authorization"] for seen in server.seen] == [f"Basic {token}"] * 2  # it went on the wire
    for text in outputs:
        for form in _basic_forms():
            assert form not in text, f"{form!r} leaked in: {text[:2000]}"
