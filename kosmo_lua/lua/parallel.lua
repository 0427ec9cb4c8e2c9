-- parallel(tasks [, options]): run Lua functions as coroutines whose waiting overlaps. Privileged library chunk
-- (Sandbox.install_lua); documented in kosmo_lua/stdlib/pages/parallel.md.
--
-- Lua stays on one thread. Each task is a coroutine; library code inside it (an integration call, sleep) yields
-- an I/O request (kosmo.overlap, in the prelude) carrying a ticket of the worker's I/O pool
-- (kosmo_lua/run/io_pool.py), where HTTP exchanges run on threads and timers tick. This driver runs every task
-- until it waits, asks the pool which tickets are ready, and resumes the task that holds each one.
--
-- A parallel call inside a task does not start a second driver: it yields its group of tasks to the driver
-- already running ("join"), which runs them beside everything else and resumes the caller when they are done.
local wait = host["kosmo.io.wait"]
local resume_task, io_ready, await = kosmo.resume_task, kosmo.io_ready, kosmo.await
local pack, unpack = table.pack, table.unpack

local MAX_DEFAULT = 8
local MAX_CAP = 64 -- the I/O pool's thread count: more at once would only queue there

local function fail(message)
  error("parallel: " .. message, 4) -- level 4: the script line that called parallel (fail < check_* < parallel)
end

local function describe(v)
  if type(v) == "string" then return string.format("%q", v) end
  return tostring(v)
end

local function check_tasks(tasks)
  if type(tasks) ~= "table" then
    fail("argument 1 (tasks): expected an array of functions, got " .. type(tasks))
  end
  local n = rawlen(tasks)
  for k, v in next, tasks do
    if math.type(k) ~= "integer" or k < 1 or k > n then
      fail("argument 1 (tasks): expected an array of functions, found the key " .. describe(k))
    end
    if type(v) ~= "function" then
      fail("argument 1 (tasks): tasks[" .. k .. "] is a " .. type(v) .. ", expected a function")
    end
  end
  for i = 1, n do
    if rawget(tasks, i) == nil then fail("argument 1 (tasks): tasks[" .. i .. "] is nil (holes are not allowed)") end
  end
  return n
end

local function check_options(options)
  local max, collect = MAX_DEFAULT, false
  if options == nil then return max, collect end
  if type(options) ~= "table" then
    fail("argument 2 (options): expected a table like {max = 8}, got " .. type(options))
  end
  for k, v in next, options do
    if k == "max" then
      if type(v) ~= "number" or v % 1 ~= 0 or v < 1 or v > MAX_CAP then
        fail("option 'max' expects a whole number from 1 to " .. MAX_CAP .. ", got " .. describe(v))
      end
      max = math.tointeger(v)
    elseif k == "errors" then
      if v ~= "raise" and v ~= "collect" then
        fail("option 'errors' expects \"raise\" or \"collect\", got " .. describe(v))
      end
      collect = v == "collect"
    else
      fail("unknown option " .. describe(k) .. " (the options are max and errors)")
    end
  end
  return max, collect
end

-- A group: the tasks of one parallel call, started at most `max` at a time.
local function new_group(tasks, n, max, collect)
  return { tasks = tasks, n = n, max = max, collect = collect, next = 1, running = 0, done = 0,
           results = {}, errors = {}, failed = 0, first = nil, parent = nil }
end

-- The text of a task's error, as the script would see it uncaught: a string as it is, a table by its __tostring or
-- its `message` field.
local function error_text(e)
  local t = type(e)
  if t == "string" or t == "number" then return tostring(e) end
  if t == "table" then
    local mt = getmetatable(e)
    if type(mt) == "table" and rawget(mt, "__tostring") ~= nil then
      local ok, text = pcall(tostring, e)
      if ok and type(text) == "string" then return text end
    end
    if type(rawget(e, "message")) == "string" then return rawget(e, "message") end
  end
  return "(error object is a " .. t .. " value)"
end

-- What the group's caller gets, as a packed pcall result: its results, or the error of the failed task with the
-- lowest index (the others are in the error's `errors` table).
local function outcome(g)
  local results = kosmo.array(g.results)
  if g.collect or g.failed == 0 then return pack(true, results) end
  local first = g.first
  local text = "parallel: task " .. first .. " of " .. g.n .. " failed: " .. error_text(g.errors[first])
  if g.failed > 1 then text = text .. " (" .. (g.failed - 1) .. " more failed; see errors)" end
  local value = { message = text, kind = "parallel", task = first, failed = g.failed, errors = g.errors,
                  results = results }
  return pack(false, setmetatable(value, { __tostring = function() return text end, __metatable = false }))
end

-- Runs `root` and every group joined to it until root is done; returns root's packed outcome.
local function drive(root)
  local runnable = {} -- tasks to resume next, in order: {co, group, index, answer, started}
  local pending = {} -- ticket -> task waiting for it
  local request_of = {} -- task -> the request it waits on
  local finished = nil

  local complete

  local function start(g)
    while g.next <= g.n and g.running < g.max do
      local i = g.next
      g.next, g.running = i + 1, g.running + 1
      runnable[#runnable + 1] = { co = coroutine.create(g.tasks[i]), group = g, index = i }
    end
    if g.done == g.n then complete(g) end
  end

  function complete(g)
    local answer = outcome(g)
    local parent = g.parent
    if parent then
      parent.answer = answer
      runnable[#runnable + 1] = parent
    else
      finished = answer
    end
  end

  local function task_ended(t, ok, value)
    local g, i = t.group, t.index
    if g.collect then
      g.results[i] = ok and { ok = true, value = value } or { ok = false, error = value }
    elseif ok then
      g.results[i] = value
    else
      g.errors[i] = value
      g.failed = g.failed + 1
      if g.first == nil or i < g.first then g.first = i end
    end
    g.running, g.done = g.running - 1, g.done + 1
    start(g)
  end

  local function handle(t, kind, ...)
    if kind == "io" then
      local request = ...
      if request.join then
        local g = request.join
        g.parent = t
        start(g)
      else
        pending[request.ticket] = t
        request_of[t] = request
      end
    elseif kind == "done" then
      task_ended(t, true, (...))
    elseif kind == "error" then
      task_ended(t, false, (...))
    else
      coroutine.close(t.co)
      task_ended(t, false, "parallel: task " .. t.index .. " called coroutine.yield outside a coroutine of its own " ..
                           "(a task runs as a coroutine of parallel; yield only inside coroutines the task creates)")
    end
  end

  start(root)
  while not finished do
    if #runnable > 0 then
      local batch = runnable
      runnable = {}
      for _, t in ipairs(batch) do
        if t.started then
          local answer = t.answer
          t.answer = nil
          handle(t, resume_task(t.co, answer))
        else
          t.started = true
          handle(t, resume_task(t.co))
        end
      end
    else
      local tickets = {}
      for ticket in next, pending do tickets[#tickets + 1] = ticket end
      if #tickets == 0 then error("parallel: internal error: no task is running or waiting", 0) end
      for _, ticket in ipairs(wait(tickets)) do
        local t = pending[ticket]
        pending[ticket] = nil
        local request = request_of[t]
        request_of[t] = nil
        -- The answer is computed here, on the driver's thread (parsing, the call record); a failed call is the
        -- task's error, raised where the task made the call.
        t.answer = request.finish and pack(pcall(request.finish, ticket)) or pack(true)
        runnable[#runnable + 1] = t
      end
    end
  end
  return finished
end

local function finish(answer)
  if answer[1] then return unpack(answer, 2, answer.n) end
  error(answer[2], 0)
end

return function(tasks, options)
  local n = check_tasks(tasks)
  local max, collect = check_options(options)
  -- The caller's table could change while tasks run; the group keeps its own copy.
  local own = {}
  for i = 1, n do own[i] = tasks[i] end
  local group = new_group(own, n, max, collect)
  if io_ready() then
    return await({ join = group }) -- inside a task: the running driver takes the group on
  end
  return finish(drive(group))
end
