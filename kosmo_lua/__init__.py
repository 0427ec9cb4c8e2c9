"""kosmo-lua: a sandboxed Lua 5.4 scripting bridge to HTTP APIs."""

__version__ = "0.1.0"
