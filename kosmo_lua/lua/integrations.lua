-- app.integrations: lazy namespaces built from each integration's operation table.
-- Privileged set-up chunk (installed with Sandbox.install_lua); scripts never see `host` or `kosmo`.
-- A function is built the first time a script reads its name, then cached in the namespace table.
local describe = host["kosmo.integrations.describe"]
local list = host["kosmo.integrations.list"]
local suggest = host["kosmo.suggest"]
local finish = host["kosmo.integrations.finish"]
local timer = host["kosmo.io.sleep"]
-- Calls block as usual, except inside a `parallel` task: there they yield to its driver while the request is in
-- flight (kosmo.overlap in the prelude), so the other tasks go on.
local call = kosmo.overlap(host["kosmo.integrations.call"], host["kosmo.integrations.begin"], finish)
local call_url = kosmo.overlap(host["kosmo.integrations.call_url"], host["kosmo.integrations.begin_url"], finish)
-- Primitives for integration helpers (sleep, now, progress, hmac_sha256, base64_*, secure_equals, raise).
local helper_lib = {}
for path, fn in pairs(host) do
  local name = path:match("^kosmo%.lib%.([%w_]+)$")
  if name then helper_lib[name] = fn end
end
-- A helper's sleep (wait/run between polls) lets the other parallel tasks run too.
if helper_lib.sleep and timer then helper_lib.sleep = kosmo.overlap(helper_lib.sleep, timer) end

local function unknown(path, key, names)
  local hint = suggest(key, names)
  if hint ~= "" then
    error("Unknown function: " .. path .. "." .. tostring(key) .. ". Did you mean: " .. hint .. "?", 3)
  end
  error("Unknown function: " .. path .. "." .. tostring(key) .. ". See docs.read(\"" ..
        path:gsub("^app%.integrations%.", "") .. "\") for what exists.", 3)
end

local function read_only(path)
  return function() error(path .. " is read-only", 2) end
end

-- Tables whose entries appear only when read; dump() iterates them with pairs() so they show in full.
kosmo.lazy_tables = kosmo.lazy_tables or setmetatable({}, { __mode = "k" })
local lazy_tables = kosmo.lazy_tables

-- A __pairs that walks `names` in order, reading each through the table so lazy entries get built.
local function pairs_over(names_of)
  return function(t)
    local names, i = names_of(), 0
    return function()
      i = i + 1
      local k = names[i]
      if k == nil then return nil end
      return k, t[k]
    end, t, nil
  end
end

local function keys_of(t)
  local out = {}
  for k in pairs(t) do out[#out + 1] = k end
  table.sort(out)
  return out
end

-- Generic iterator over every item of a paginated list operation: follows the page's `next` link.
local function make_paginate(name, account, desc, path)
  return function(fname, args)
    if type(fname) ~= "string" then
      error(path .. ".paginate: parameter 'name' expects the name of a list function (string), got " .. type(fname), 2)
    end
    local canonical = desc.functions[fname]
    if not canonical then unknown(path, fname, keys_of(desc.functions)) end
    if not desc.pagination then error(path .. ".paginate: this integration's lists are not paginated", 2) end
    local page = call(name, account, canonical, args or {})
    local i = 0
    return function()
      while true do
        if page == nil then return nil end
        local results = page[desc.pagination.results_field] or {}
        i = i + 1
        if results[i] ~= nil then return results[i] end
        local nxt = page[desc.pagination.next_field]
        if type(nxt) ~= "string" or nxt == "" then page = nil; return nil end
        page = call_url(name, account, canonical, nxt)
        i = 0
      end
    end
  end
end

local function function_namespace(name, desc, account)
  local path = "app.integrations." .. name .. (account and ("." .. account) or "")
  local ns = {}
  local helpers
  local function load_helpers()
    if helpers == nil then
      helpers = {}
      if desc.helpers_source then
        -- Helpers run with the same safe globals as scripts, plus nothing: they reach the API through `ns`.
        local env = kosmo.safe_globals()
        local chunk = assert(load(desc.helpers_source, "@" .. desc.helpers_chunkname, "t", env))
        helpers = chunk()(ns, helper_lib, path) or {}
      end
    end
    return helpers
  end
  local meta = {}
  local all_names
  meta.__index = function(t, key)
    if type(key) ~= "string" then return nil end
    local canonical = desc.functions[key]
    if canonical then
      local f = function(args, extra)
        if extra ~= nil then
          error(name .. "." .. canonical .. ": takes one table of arguments, got more than one argument", 2)
        end
        return call(name, account, canonical, args)
      end
      rawset(t, key, f)
      return f
    end
    if key == "paginate" and desc.pagination then
      local f = make_paginate(name, account, desc, path)
      rawset(t, key, f)
      return f
    end
    local h = load_helpers()[key]
    if h ~= nil then rawset(t, key, h); return h end
    if account == nil then
      local is_account = key == "default"
      for _, a in ipairs(desc.accounts) do if a == key then is_account = true end end
      if is_account then
        local sub = function_namespace(name, desc, key)
        rawset(t, key, sub)
        return sub
      end
    end
    local names = all_names()
    if account == nil and suggest(key, names) == "" then
      -- Not close to any function: most likely an account that is not configured (yet).
      local configured = #desc.accounts > 0 and table.concat(desc.accounts, ", ") or "none besides default"
      error("Unknown function or account: " .. path .. "." .. key .. ". Configured accounts: " .. configured ..
            " (add one with `kosmo integrations:configure " .. name .. " --account " .. key ..
            " --set ...`); docs.read(\"" .. name .. "\") lists the functions.", 2)
    end
    unknown(path, key, names)
  end
  -- Every name the namespace answers to, for messages and for pairs().
  function all_names()
    local names = keys_of(desc.functions)
    for k in pairs(load_helpers()) do names[#names + 1] = k end
    if desc.pagination then names[#names + 1] = "paginate" end
    if account == nil then
      names[#names + 1] = "default"
      for _, a in ipairs(desc.accounts) do names[#names + 1] = a end
    end
    table.sort(names)
    return names
  end
  -- pairs() and dump() see every function (canonical names and aliases), helper and account, not only the ones
  -- a script happened to read already: iterating builds them.
  meta.__pairs = pairs_over(function() return all_names() end)
  meta.__newindex = read_only(path)
  meta.__metatable = false
  lazy_tables[ns] = true
  return setmetatable(ns, meta)
end

local root = {}
lazy_tables[root] = true
setmetatable(root, {
  __index = function(t, key)
    if type(key) ~= "string" then return nil end
    local desc = describe(key)
    if desc == nil then unknown("app.integrations", key, list()) end
    local ns = function_namespace(key, desc, nil)
    rawset(t, key, ns)
    return ns
  end,
  __newindex = read_only("app.integrations"),
  __pairs = pairs_over(list),
  __metatable = false,
})
return root
