from kosmo_lua.cli.main import entry

entry()
