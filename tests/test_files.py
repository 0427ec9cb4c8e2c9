"""File inputs (the one part of request building that reads the disk) and the multipart encoder/parser."""

from __future__ import annotations

import base64
import email.parser
import email.policy
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kosmo_lua.errors import ArgumentError
from kosmo_lua.ops.files import (
    FileInput,
    guess_content_type,
    read_file_input,
    resolve_file_inputs,
    sniff_content_type,
)
from kosmo_lua.ops.multipart import MultipartError, Part, encode_multipart, parse_multipart
from kosmo_lua.ops.table import Body, BodyField, Operation
from kosmo_lua.ops.validate import validate_args

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"


def read(value: object, cwd: Path | None = None, **kw: object) -> FileInput:
    return read_file_input(value, function="replicate.create_file", param="content", cwd=cwd,
                           **kw)  # type: ignore[arg-type]


def refused(value: object, cwd: Path | None = None, **kw: object) -> str:
    with pytest.raises(ArgumentError) as info:
        read(value, cwd, **kw)
    [problem] = info.value.problems
    assert str(info.value) == f"replicate.create_file: {problem}"
    return problem


def test_path_relative_to_cwd(tmp_path: Path) -> None:
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "cat.png").write_bytes(PNG)
    assert read("img/cat.png", tmp_path) == FileInput(PNG, "cat.png", "image/png")
    assert read(str(tmp_path / "img" / "cat.png")) == FileInput(PNG, "cat.png", "image/png")


def test_missing_path_explains_how_to_send_text(tmp_path: Path) -> None:
    assert refused("x.png", tmp_path) == ("parameter 'content': no such file 'x.png' (to send text as the file's "
                                          "content use {content = ..., filename = ...})")


def test_directory_device_and_size_limit(tmp_path: Path) -> None:
    assert refused(".", tmp_path) == "parameter 'content': '.' is a directory, not a file"
    if Path("/dev/zero").exists():
        assert refused("/dev/zero") == "parameter 'content': '/dev/zero' is not a regular file"
    assert refused("n" * 300, tmp_path).startswith(f"parameter 'content': cannot read '{'n' * 300}'")
    (tmp_path / "big.bin").write_bytes(b"x" * 11)
    assert refused("big.bin", tmp_path, max_bytes=10) == (
        "parameter 'content': file 'big.bin' is 11 bytes, more than the 10 allowed")
    assert refused({"content": "x" * 11}, max_bytes=10) == (
        "parameter 'content': file content is 11 bytes, more than the 10 allowed")


def test_strings_that_cannot_be_paths_are_content(tmp_path: Path) -> None:
    assert read("two\nlines", tmp_path) == FileInput(b"two\nlines", None, None)
    assert read("nul\x00inside", tmp_path).content == b"nul\x00inside"
    long = "y" * 5000
    assert read(long, tmp_path).content == long.encode()
    assert refused("", tmp_path).startswith("parameter 'content': empty string")


def test_raw_bytes_are_sniffed() -> None:
    assert read(PNG) == FileInput(PNG, None, "image/png")
    assert read(b"\x00\x01") == FileInput(b"\x00\x01", None, None)
    assert read(bytearray(b"GIF89a...")).content_type == "image/gif"


def test_content_table() -> None:
    assert read({"content": "hello", "filename": "a.txt"}) == FileInput(b"hello", "a.txt", "text/plain")
    assert read({"content": b"\xff\xd8\xff\xe0", "content_type": "image/x-custom"}) == FileInput(
        b"\xff\xd8\xff\xe0", None, "image/x-custom")
    assert refused({"content": "x", "filname": "a.txt"}) == (
        "parameter 'content': unknown keys ['filname'] in the file table (accepted: content, filename, content_type)")
    assert refused({"content": 5}) == "parameter 'content': 'content' must be a string"
    assert refused({"content": "x", "filename": 3}) == "parameter 'content': 'filename' must be a string"


def test_media_tables_from_other_calls(tmp_path: Path) -> None:
    media = {"content_type": "image/webp", "body_base64": base64.b64encode(b"RIFF0000WEBPVP8 ").decode(),
             "finish_reason": "SUCCESS", "seed": "42"}  # extra result fields are fine
    assert read(media) == FileInput(b"RIFF0000WEBPVP8 ", None, "image/webp")
    assert read({"body": "# README", "content_type": "text/markdown"}) == FileInput(b"# README", None,
                                                                                    "text/markdown")
    (tmp_path / "saved.png").write_bytes(PNG)
    saved = {"path": "saved.png", "bytes": len(PNG), "content_type": "image/png"}
    assert read(saved, tmp_path) == FileInput(PNG, "saved.png", "image/png")
    assert refused({"body_base64": "not base64!"}) == "parameter 'content': 'body_base64' is not valid base64"
    assert refused({"path": "gone.png"}, tmp_path).startswith("parameter 'content': no such file 'gone.png'")
    assert refused({"name": "x"}) == "parameter 'content': a file table needs 'content', 'path' or 'body_base64'"


def test_guessing_is_machine_independent() -> None:
    assert guess_content_type("a.PNG") == "image/png"
    assert guess_content_type("clip.webm") == "video/webm"
    assert guess_content_type("notes") is None and guess_content_type(None) is None
    assert sniff_content_type(b"RIFF\x00\x00\x00\x00WAVEfmt ") == "audio/wav"
    assert sniff_content_type(b"XXXX\x00\x00\x00\x00WAVE") is None  # the RIFF header is required
    assert sniff_content_type(b"\x00\x00\x00\x18ftypmp42") == "video/mp4"


def test_file_input_repr_hides_content() -> None:
    assert repr(FileInput(b"secret bytes", "a.bin", None)) == (
        "FileInput(12 bytes, filename='a.bin', content_type=None)")


UPLOAD = Operation(
    name="upload", aliases=(), full_name="x.x_upload", operation_id="u", method="POST", path="/u", access="write",
    summary="",
    body=Body(required=True, encoding="multipart", content_type="multipart/form-data",
              fields=(BodyField("main", "binary", required=True), BodyField("more", "array", items="binary"),
                      BodyField("note", "string"))),
)


def test_resolve_reads_every_binary_field(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(PNG)
    args = validate_args(UPLOAD, {"main": "a.png", "more": [b"\x01", {"content": "t", "filename": "t.txt"}],
                                  "note": "a.png"}, function="x.upload")
    resolved = resolve_file_inputs(UPLOAD, args, function="x.upload", cwd=tmp_path)
    assert resolved.body["main"] == FileInput(PNG, "a.png", "image/png")
    assert resolved.body["more"] == [FileInput(b"\x01"), FileInput(b"t", "t.txt", "text/plain")]
    assert resolved.body["note"] == "a.png"  # a string field is never read from disk
    assert args.body["main"] == "a.png"  # the input is not changed in place
    with pytest.raises(ArgumentError, match=r"x.upload: parameter 'more\[2\]': no such file 'b.png'"):
        resolve_file_inputs(UPLOAD, validate_args(UPLOAD, {"main": b"x", "more": [b"x", "b.png"]},
                                                  function="x.upload"), function="x.upload", cwd=tmp_path)


# -- multipart ---------------------------------------------------------------------------------------------------------

def test_multipart_round_trip_and_escaping() -> None:
    parts = [Part('we"ird\r\nname', b"v"), Part("file", b"\r\n--\r\nbody", 'q"uote.txt', "text/plain"),
             Part("empty", b"", "", None)]
    body, content_type = encode_multipart(parts)
    assert content_type.startswith("multipart/form-data; boundary=kosmo-")
    assert b'name="we%22ird%0D%0Aname"' in body and b'filename="q%22uote.txt"' in body
    assert parse_multipart(body, content_type) == parts


def test_boundary_never_occurs_in_content() -> None:
    first_body, first_type = encode_multipart([Part("a", b"x")])
    boundary = first_type.split("boundary=")[1].encode()
    # Content that contains exactly the boundary the same header would otherwise get.
    sneaky = [Part("a", b"x"), Part("b", b"--" + boundary)]
    body, content_type = encode_multipart(sneaky)
    assert parse_multipart(body, content_type) == sneaky
    for part in sneaky:
        assert content_type.split("boundary=")[1].encode() not in part.content


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.text(min_size=1, max_size=10), st.binary(max_size=40),
                          st.one_of(st.none(), st.text(max_size=10))), max_size=4))
def test_multipart_agrees_with_the_stdlib_reader(items: list[tuple[str, bytes, str | None]]) -> None:
    parts = [Part(name, content, filename, "application/octet-stream" if filename is not None else None)
             for name, content, filename in items]
    body, content_type = encode_multipart(parts)
    assert parse_multipart(body, content_type) == parts
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    assert [p.get_payload(decode=True) for p in message.iter_parts()] == [p.content for p in parts]


@pytest.mark.parametrize(("body", "content_type", "message"), [
    (b"", "text/plain", "not a multipart content type"),
    (b"--b\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n", "multipart/form-data; boundary=b",
     "no closing boundary"),
    (b"--b\r\nContent-Disposition: form-data; name=a\r\nx\r\n--b--\r\n", "multipart/form-data; boundary=b",
     "no blank line"),
    (b"--b\r\nContent-Disposition: attachment\r\n\r\nx\r\n--b--\r\n", "multipart/form-data; boundary=b",
     "without form-data"),
    (b"--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--\r\n", "multipart/form-data; boundary=b",
     "without a name"),
])
def test_malformed_multipart(body: bytes, content_type: str, message: str) -> None:
    with pytest.raises(MultipartError, match=message):
        parse_multipart(body, content_type)
