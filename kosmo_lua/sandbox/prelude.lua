-- The privileged set-up chunk of a Sandbox (see runtime.py). It runs once, with the real globals, before any
-- script. It builds the whitelist environment scripts run in and returns the internal API the Python side drives.
-- Nothing defined here is reachable from a script: the Python callables live only in upvalues of the closures
-- below, and scripts have no debug library to read upvalues with.
--
-- Arguments: tick (Python: returns 0, or a kill code once a limit is hit), host_call (Python: runs host function
-- number i), ns_index (Python: resolves a key of lazy namespace number i), hook_count (instructions between ticks).
local tick, host_call, ns_index, hook_count = ...

-- Everything the sandbox needs is captured here; the real globals are emptied at the end.
local assert, error, ipairs, next, pairs = assert, error, ipairs, next, pairs
local native_pcall, native_xpcall = pcall, xpcall
local rawequal, rawget, rawlen, rawset = rawequal, rawget, rawlen, rawset
local select, tonumber, tostring, type = select, tonumber, tostring, type
local native_getmetatable, native_setmetatable, native_load = getmetatable, setmetatable, load
local collectgarbage = collectgarbage
local VERSION = _VERSION
local string, table, math, utf8, coroutine, os = string, table, math, utf8, coroutine, os
local sethook, raw_getmetatable = debug.sethook, debug.getmetatable
local co_create, co_resume, co_close = coroutine.create, coroutine.resume, coroutine.close
local co_status, co_yield, co_running = coroutine.status, coroutine.yield, coroutine.running
local co_isyieldable = coroutine.isyieldable
local pack, unpack, concat = table.pack, table.unpack, table.concat
local format = string.format
local package_loaded = package.loaded
local real_globals = _G

-- Generational collection: a script's garbage is mostly young (the tables of each host call's answer), and the
-- generational mode of Lua 5.4.8 collects it without re-marking the sandbox's long-lived tables every cycle: a loop
-- of integration calls measured 1-3 % faster (bench/call_overhead.py). The limits are unchanged: memory checks
-- still run a full collection before they refuse.
collectgarbage("generational")

-- string.dump would hand out bytecode; remove it from the real table, which string values use as __index.
string.dump = nil
-- Lock the string metatable: getmetatable("") gives false and nothing can replace or extend it.
raw_getmetatable("").__metatable = false

-- Kill state ----------------------------------------------------------------------------------------------------
-- Kill codes shared with runtime.py.
local KILL_CPU, KILL_MEMORY, KILL_OTHER = 1, 2, 3
local MEMORY_ERROR = "not enough memory" -- the exact message Lua gives when an allocation fails

local messages = { "cpu limit exceeded", "memory limit exceeded", "script stopped" }
local killed = nil -- the kill message once the script is being ended; every wrapper below re-raises it
local killed_code = nil
-- Host calls refuse to start when Lua memory is above this many KiB: lupa must be able to allocate while it
-- converts arguments and pushes results, or the process deadlocks (see runtime.py). Huge outside execute().
local memory_guard_kib = math.huge

local function die(code)
  if not killed then
    killed_code = code
    killed = messages[code] or messages[KILL_OTHER]
  end
  error(killed, 0)
end

-- The count hook, and the same check done by every wrapper (the hook cannot run when the C stack is exhausted).
local function check()
  if killed then error(killed, 0) end
  local code = tick()
  if code ~= 0 then die(code) end
end

local hook = check

-- What every catching wrapper does with the result of the native call: a kill is re-raised, and a failed
-- allocation becomes the memory kill (it must not be catchable, or a script could fill memory and go on).
local function settle(ok, ...)
  if killed then error(killed, 0) end
  if not ok and (...) == MEMORY_ERROR then die(KILL_MEMORY) end
  check()
  return ok, ...
end

local function memory_guard()
  if collectgarbage("count") > memory_guard_kib then
    collectgarbage("collect") -- garbage counts too; only live data should end the script
    if collectgarbage("count") > memory_guard_kib then die(KILL_MEMORY) end
  end
end

-- Markers ---------------------------------------------------------------------------------------------------------
-- json.null: a unique, locked, read-only table (scripts cannot make userdata, so a table it is).
local null_mt = {
  __metatable = "null",
  __tostring = function() return "null" end,
  __newindex = function() error("json.null is read-only", 2) end,
}
local NULL = native_setmetatable({}, null_mt)

-- Arrays crossing the boundary carry this locked metatable, so [] and {} stay different.
local array_mt = { __metatable = "array" }

local function mark_array(t, fname)
  if t == nil then return native_setmetatable({}, array_mt) end
  if type(t) ~= "table" then
    error(format("%s: argument 1: expected a table or nil, got %s", fname, type(t)), 3)
  end
  local mt = raw_getmetatable(t)
  if rawequal(mt, array_mt) then return t end
  if mt ~= nil then error(fname .. ": argument 1: the table already has a metatable", 3) end
  return native_setmetatable(t, array_mt)
end

-- Not tail calls: error levels in mark_array count this frame.
local function json_array(t)
  local marked = mark_array(t, "json.array")
  return marked
end

-- Script-facing replacements ---------------------------------------------------------------------------------------
local function safe_pcall(f, ...)
  check()
  return settle(native_pcall(f, ...))
end

local function safe_xpcall(f, handler, ...)
  check()
  if type(handler) ~= "function" then
    error(format("bad argument #2 to 'xpcall' (function expected, got %s)", type(handler)), 2)
  end
  -- Once killed, the script's handler does not run: the kill goes straight through.
  local function guarded(e)
    if killed then return e end
    return handler(e)
  end
  return settle(native_xpcall(f, guarded, ...))
end

local function safe_getmetatable(v)
  -- Defence in depth: no host object should ever be reachable, and if one were, its metatable stays hidden.
  if type(v) == "userdata" then return nil end
  return native_getmetatable(v)
end

local function safe_setmetatable(t, mt)
  if type(mt) == "table" and (rawget(mt, "__gc") ~= nil or rawget(mt, "__close") ~= nil) then
    error("setmetatable: metatables with __gc or __close are not allowed in the sandbox", 2)
  end
  return native_setmetatable(t, mt)
end

local script_env -- set below; the default environment of chunks loaded by scripts

local function safe_load(chunk, chunkname, mode, ...)
  check()
  if type(chunk) ~= "string" then
    error(format("load: chunk: expected a string of Lua source, got %s", type(chunk)), 2)
  end
  if mode ~= nil and (type(mode) ~= "string" or not mode:find("t", 1, true)) then
    return nil, "load: mode: only text chunks can be loaded in the sandbox"
  end
  local env = script_env
  if select("#", ...) > 0 then env = ... end
  local f, err = native_load(chunk, chunkname, "t", env)
  if killed then error(killed, 0) end
  if err == MEMORY_ERROR then die(KILL_MEMORY) end
  return f, err
end

local host_print -- set by the Python side (a host function closure)

local function print(...)
  local args = pack(...)
  for i = 1, args.n do args[i] = tostring(args[i]) end
  host_print(concat(args, "\t", 1, args.n))
end

-- Overlapping I/O (the `parallel` driver, kosmo_lua/lua/parallel.lua) -------------------------------------------
-- A parallel task is a coroutine. When library code inside one has to wait (an HTTP call, sleep), it yields
-- (IO, request) instead of blocking; the driver resumes it with the answer once the request is done. A script's
-- own coroutines inside a task must not see those yields, so the resume wrappers below pass them up to the driver
-- and hand the answer back down. IO is private: a script can neither make nor catch an I/O yield.
local IO = native_setmetatable({}, { __metatable = false })
-- coroutine -> true when an I/O yield from it reaches a driver: set on each resume, from the resumer's own state.
local io_ok = native_setmetatable({}, { __mode = "k" })
-- coroutine -> true while it is suspended in an I/O yield; nothing but its answer may resume it then.
local io_waiting = native_setmetatable({}, { __mode = "k" })

-- True when the running code may yield its I/O to a driver (every coroutine up to the driver can yield now).
local function io_ready()
  local co, main = co_running()
  return not main and io_ok[co] == true and co_isyieldable()
end

-- Yield an I/O request to the driver and return its answer: a packed pcall result {true, values...} or {false, e}.
local function await(request)
  local co = co_running()
  io_waiting[co] = true
  local answer = co_yield(IO, request)
  io_waiting[co] = nil
  if killed then error(killed, 0) end
  if answer[1] then return unpack(answer, 2, answer.n) end
  error(answer[2], 0)
end

-- co yielded I/O from inside (ok, IO, request): pass it up, resume co with the answer, until co yields for real or
-- ends. Tail calls, so a long conversation does not grow the stack.
local function relay(co, ok, mark, ...)
  if not (ok and rawequal(mark, IO)) then return ok, mark, ... end
  local me = co_running()
  io_waiting[me] = true
  local answer = co_yield(IO, ...)
  io_waiting[me] = nil
  if killed then error(killed, 0) end
  return relay(co, co_resume(co, answer))
end

local WAITING = "cannot resume a coroutine that is waiting for I/O in parallel"

-- Coroutines: each one gets the limit hook, and a kill inside one ends the whole script.
local function hooked_create(f)
  check()
  local co = co_create(f)
  sethook(co, hook, "", hook_count)
  return co
end

local function safe_resume(co, ...)
  check()
  if io_waiting[co] then return false, WAITING end
  if type(co) == "thread" then io_ok[co] = io_ready() or nil end
  return settle(relay(co, co_resume(co, ...)))
end

local function safe_close(co)
  check()
  if io_waiting[co] then error("cannot close a coroutine that is waiting for I/O in parallel", 2) end
  return settle(co_close(co))
end

local function safe_wrap(f)
  local co = hooked_create(f)
  local function finish(ok, ...)
    if killed then error(killed, 0) end
    if ok then return ... end
    local err = ...
    if err == MEMORY_ERROR then die(KILL_MEMORY) end
    if co_status(co) == "dead" then co_close(co) end -- run pending __close handlers, as the native wrap does
    if killed then error(killed, 0) end
    error(err, 0)
  end
  return function(...)
    check()
    if io_waiting[co] then error(WAITING, 2) end
    io_ok[co] = io_ready() or nil
    return finish(relay(co, co_resume(co, ...)))
  end
end

-- For the driver: resume task co, whose I/O yields come back here. Returns "io", request | "done", values... |
-- "error", value | "yield", values... (a plain yield at the task's own level). Kills and memory errors go through.
local function task_outcome(co, ok, first, ...)
  if killed then error(killed, 0) end
  if not ok then
    if first == MEMORY_ERROR then die(KILL_MEMORY) end
    check()
    return "error", first
  end
  check()
  if rawequal(first, IO) then return "io", ... end
  if co_status(co) == "dead" then return "done", first, ... end
  return "yield", first, ...
end

local function resume_task(co, ...)
  check()
  io_ok[co] = true
  return task_outcome(co, co_resume(co, ...))
end

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

-- A fresh table of the safe globals. Scripts get one; privileged library chunks get another, so that whatever a
-- script does to its own globals (string.format = ..., setmetatable(_G, ...)) never changes library code.
local function safe_globals()
  local g = {
    assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs,
    pcall = safe_pcall, xpcall = safe_xpcall,
    rawequal = rawequal, rawget = rawget, rawlen = rawlen, rawset = rawset,
    select = select, tonumber = tonumber, tostring = tostring, type = type,
    getmetatable = safe_getmetatable, setmetatable = safe_setmetatable,
    load = safe_load, print = print, _VERSION = VERSION,
    string = copy(string), table = copy(table), math = copy(math), utf8 = copy(utf8),
    coroutine = {
      create = hooked_create, resume = safe_resume, wrap = safe_wrap, close = safe_close,
      status = co_status, running = coroutine.running, yield = coroutine.yield,
      isyieldable = coroutine.isyieldable,
    },
    os = { time = os.time, clock = os.clock, date = os.date, difftime = os.difftime },
    json = { null = NULL, array = json_array },
  }
  g._G = g
  return g
end

script_env = safe_globals()

-- Privileged library chunks (Sandbox.install_lua) see these on top of their own safe globals.
local host = {} -- every registered host function by dotted path
local kosmo = {
  null = NULL,
  array = function(t)
    local marked = mark_array(t, "kosmo.array")
    return marked
  end,
  is_array = function(t) return type(t) == "table" and rawequal(raw_getmetatable(t), array_mt) end,
  is_null = function(v) return rawequal(v, NULL) end,
  check = check,
  io_ready = io_ready,
  await = await,
  resume_task = resume_task,
}

-- A function that calls sync(...) normally; inside a parallel task it starts the same work with begin(...), which
-- returns a ticket of the worker's I/O pool, and yields to the driver, which answers with finish(ticket) (nothing
-- when finish is nil: a timer).
function kosmo.overlap(sync, begin, finish)
  return function(...)
    if io_ready() then return await({ ticket = begin(...), finish = finish }) end
    return sync(...)
  end
end

-- A script-visible error value in the shape host CallErrors have: a table with at least `message`, whose
-- tostring is the full message. kosmo.error("text") or kosmo.error({message = ..., ...}, full_text?).
local function error_value(value, text)
  if type(value) ~= "table" then value = { message = tostring(value) } end
  if type(text) ~= "string" then text = tostring(rawget(value, "message") or "error") end
  return native_setmetatable(value, { __tostring = function() return text end, __metatable = false })
end

function kosmo.error(value, text) error(error_value(value, text), 0) end

-- A fresh table of script-level globals (no host, no kosmo): the environment for less trusted Lua a library
-- loads, such as an integration's helpers.lua.
kosmo.safe_globals = safe_globals

local library_base = safe_globals()
library_base.host = host
library_base.kosmo = kosmo
local library_env_mt = { __index = library_base }

-- Host functions and lazy namespaces -------------------------------------------------------------------------------
-- Python answers a call with a packed result table {ok = true, n = ..., ...}, an error {err = value, text = ...},
-- or a kill code (a number). Only numbers and tables ever come back: pushing them needs no Lua allocation.
local function finish_host(r)
  if type(r) ~= "table" then die(r) end
  if r.ok then return unpack(r, 1, r.n) end
  local err = r.err
  if r.text then err = error_value(err, r.text) end
  error(err, 0)
end

local function make_host(index)
  return function(...)
    if killed then error(killed, 0) end
    memory_guard()
    return finish_host(host_call(index, ...))
  end
end

-- The lazy namespace tables made here (weak keys); set_path must not trust a script's look-alike.
local namespaces = native_setmetatable({}, { __mode = "k" })

local function make_namespace(index)
  local mt = { __metatable = "namespace" }
  function mt.__index(t, key)
    if killed then error(killed, 0) end
    memory_guard()
    local r = ns_index(index, key)
    if type(r) ~= "table" then die(r) end
    if r.ok then
      local v = r[1]
      rawset(t, key, v)
      return v
    end
    if r.unknown then error(r.err, 2) end -- "Unknown function: ...", positioned at the script line
    return finish_host(r)
  end
  local ns = native_setmetatable({}, mt)
  namespaces[ns] = true
  return ns
end

-- Internal API (held by Python only) ---------------------------------------------------------------------------
local internal = {}

function internal.configure(cpu_message, memory_message)
  messages[KILL_CPU] = cpu_message
  messages[KILL_MEMORY] = memory_message
end

function internal.set_print(fn) host_print = fn end

-- Called before and after each execute(): resets the kill state and arms or disarms the host-call guard.
function internal.begin(guard_kib)
  killed, killed_code = nil, nil
  memory_guard_kib = guard_kib
end

function internal.finish()
  memory_guard_kib = math.huge
  return killed_code
end

function internal.compile(code, chunkname)
  return native_load(code, chunkname, "t", script_env)
end

-- The text of an error value: strings as they are, __tostring when the value has one, else a `message` field.
-- Runs inside execute(), under the limits, because __tostring is script code.
local function error_text(e)
  local t = type(e)
  if t == "string" then return e end
  if t == "number" then return tostring(e) end
  if t == "table" then
    local mt = raw_getmetatable(e)
    if mt and rawget(mt, "__tostring") ~= nil then
      local ok, s = native_pcall(tostring, e)
      if ok and type(s) == "string" then return s end
    end
    local m = rawget(e, "message")
    if type(m) == "string" then return m end
  end
  return format("(error object is a %s value)", t)
end

local last -- the packed outcome of the last run: {ok, values..., n = ...} or {false, err, text = ...}

function internal.run(f)
  last = nil
  sethook(hook, "", hook_count) -- the main thread's hook (coroutines get theirs in hooked_create)
  local r = pack(native_pcall(f))
  if not r[1] then r.text = error_text(r[2]) end
  last = r
end

function internal.outcome()
  local r = last
  last = nil
  return r
end

-- Host function closure for entry `index`; `path` is where it goes ("json.encode").
function internal.host_function(index, path)
  local fn = make_host(index)
  if path then host[path] = fn end
  return fn
end

internal.namespace = make_namespace

-- Marks every table of a Lua array of tables as an array (one call per converted host result).
function internal.mark_arrays(list)
  for i = 1, #list do native_setmetatable(list[i], array_mt) end
end

-- For from_lua: 1 = json.null, 2 = marked array, 3 = other table; plus a stable identity number for the table.
-- Any other value gives 0 and its Lua type (lupa shows a coroutine as a function).
local ids = native_setmetatable({}, { __mode = "k" })
local next_id = 0
function internal.describe(t)
  if type(t) ~= "table" then return 0, type(t) end
  local id = ids[t]
  if not id then
    next_id = next_id + 1
    id = next_id
    ids[t] = id
  end
  -- rawequal: a script's table may carry __eq, and no script code may run during a conversion.
  if rawequal(t, NULL) then return 1, id end
  if rawequal(raw_getmetatable(t), array_mt) then return 2, id end
  return 3, id
end

-- Places `value` at the dotted path (given as an array of names) below the script's globals.
-- Parents are created; a lazy namespace on the way is asked for its entry (which builds and caches it).
function internal.set_path(names, value)
  local t = script_env
  for i = 1, #names - 1 do
    local k = names[i]
    local v = rawget(t, k)
    if v == nil then
      if namespaces[t] then
        local ok, found = native_pcall(function() return t[k] end)
        if not ok then error((tostring(found):gsub("^kosmo%.prelude:%d+: ", "")), 0) end
        v = found
      else
        v = {}
        rawset(t, k, v)
      end
    end
    if type(v) ~= "table" then
      error(format("cannot place a value below %s: it is a %s", concat(names, ".", 1, i), type(v)), 0)
    end
    t = v
  end
  rawset(t, names[#names], value)
end

-- Runs a privileged library chunk in its own environment (safe globals + host + kosmo) and returns its value.
function internal.install(source, chunkname)
  local env = native_setmetatable({}, library_env_mt)
  local f, err = native_load(source, chunkname, "t", env)
  if not f then return false, err end
  local ok, value = native_pcall(f)
  if not ok then return false, error_text(value) end
  return true, value
end

internal.null = NULL

-- Nothing else may stay reachable through the real globals.
for k in pairs(real_globals) do real_globals[k] = nil end
for k in pairs(package_loaded) do package_loaded[k] = nil end

return internal
