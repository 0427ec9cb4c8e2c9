"""MCP on both sides: servers that Lua scripts call (``app.mcp``, ``mcp.*``) and ``kosmo mcp:serve``.

Nothing here imports the MCP SDK at module level: it costs most of a second, so it is imported only when a script
first talks to a server or when ``mcp:serve`` starts.
"""
