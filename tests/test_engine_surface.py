"""What a script sees in the full engine (stdlib + integrations + mcp), and what it must not see."""

from __future__ import annotations

from kosmo_lua.run.runner import RunOptions, run_script


def run(code: str, **options: object):  # type: ignore[no-untyped-def]
    return run_script(code, options=RunOptions(**options))  # type: ignore[arg-type]


def test_internal_tables_are_not_reachable() -> None:
    env = run("""
        local seen = {}
        for _, name in ipairs({"kosmo", "host", "python", "io", "debug", "package", "require", "dofile",
                               "loadfile", "collectgarbage"}) do
          if rawget(_G, name) ~= nil then seen[#seen + 1] = name end
        end
        if regex._gsub ~= nil or regex._spans ~= nil then seen[#seen + 1] = "regex internals" end
        return table.concat(seen, ",")
    """)
    assert env.success, env.error
    assert env.result == [""]


def test_globals_offered() -> None:
    env = run("""
        local names = {}
        for _, name in ipairs({"print", "dump", "json", "regex", "docs", "sleep", "app", "mcp"}) do
          names[#names + 1] = name .. "=" .. type(_G[name])
        end
        return table.concat(names, " ")
    """)
    assert env.success, env.error
    assert env.result == ["print=function dump=function json=table regex=table docs=table sleep=function "
                          "app=table mcp=table"]


def test_integrations_namespace_is_read_only() -> None:
    env = run('app.integrations.replicate.get_account = function() return "spoof" end')
    assert not env.success
    assert "read-only" in (env.error or "")


def test_mcp_surface_has_no_integrations() -> None:
    env = run("return app.integrations", surface="mcp")
    assert env.success
    assert env.result == [None]


def test_dump_and_pairs_show_lazy_namespaces_in_full(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("KOSMO_HOME", str(tmp_path))
    env = run("""
        local n = 0
        for name, fn in pairs(app.integrations.replicate) do n = n + 1 end
        dump(app.integrations.replicate)
        return n
    """, offline=True)
    assert env.success, env.error
    # 37 canonical names + 12 aliases + wait/run/validate_webhook + paginate + default
    assert env.result == [54]
    assert "create_prediction_using_official_model = <function>" in env.output
    assert "default = {" in env.output


def test_unknown_account_names_the_configured_ones(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("KOSMO_HOME", str(tmp_path))
    env = run("return app.integrations.replicate.work.get_account({})", offline=True)
    assert not env.success
    assert "Unknown function or account: app.integrations.replicate.work" in env.error
    assert "Configured accounts: none besides default" in env.error
    assert "kosmo integrations:configure replicate --account work" in env.error
