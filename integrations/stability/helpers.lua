-- Helpers beyond Stability's API, written against the generated functions.
-- This chunk returns a constructor: helpers(ns, lib, path) -> table of functions. `ns` is the namespace the
-- helpers belong to (so `app.integrations.stability.work.wait` polls with the `work` account), `lib` the engine's
-- primitives (sleep, now, progress, raise, settings...), `path` the Lua path used in error messages.
-- Documented in helpers.yaml beside this file.
return function(ns, lib, path)
  -- integration.yaml's async.poll_interval: Stability asks clients not to poll a job more often than this.
  local settings = (lib.settings and lib.settings("stability")) or {}
  local async = type(settings.async) == "table" and settings.async or {}
  local POLL_INTERVAL = tonumber(async.poll_interval) or 10

  -- Which result function answers for each kind of job.
  local RESULT = { video = "get_video_result", upscale = "get_creative_upscale_result", result = "get_result" }

  local function fail_args(fname, message)
    error(path .. "." .. fname .. ": " .. message, 3)
  end

  local function positive_number(fname, args, key, default)
    local v = args[key]
    if v == nil then return default end
    if type(v) ~= "number" or v <= 0 or v ~= v or v == math.huge then
      fail_args(fname, "parameter '" .. key .. "' expects a number of seconds > 0, got " .. tostring(v))
    end
    return v
  end

  -- Poll an async job (creative upscale, image-to-video) until its result is ready, and return the result.
  local function wait(args)
    if type(args) ~= "table" then fail_args("wait", "expected a table of arguments, got " .. type(args)) end
    local id = args.id
    if id == nil and type(args.job) == "table" then id = args.job.id end
    if type(id) == "table" then id = id.id end -- the table the start call returned
    if type(id) ~= "string" or id == "" then
      fail_args("wait", "parameter 'id' expects the job id (a string) or the table the start call returned, got " ..
                tostring(id))
    end
    local kind = args.kind == nil and "result" or args.kind
    local fname = RESULT[kind]
    if fname == nil then
      fail_args("wait", "parameter 'kind' must be \"video\", \"upscale\" or \"result\", got " .. tostring(kind))
    end
    local interval = positive_number("wait", args, "interval", POLL_INTERVAL)
    local timeout = positive_number("wait", args, "timeout", nil)
    local fetch = ns[fname]
    -- save_to goes with every poll: the engine checks the path before the first request and writes the file
    -- only once the answer carries it.
    local request = { id = id, save_to = args.save_to, overwrite = args.overwrite, accept = args.accept }
    local started = lib.now()
    local polls = 0
    while true do
      local result = fetch(request)
      polls = polls + 1
      if result.body_base64 ~= nil or result.path ~= nil then
        lib.progress_done()
        return result
      end
      if result.status ~= "in-progress" then
        lib.progress_done()
        lib.raise(path .. ".wait: unexpected answer for job " .. id .. " (no file and no in-progress status)",
                  { kind = "unexpected", id = id, result = result })
      end
      local elapsed = lib.now() - started
      if timeout ~= nil and elapsed + interval > timeout then
        lib.progress_done()
        lib.raise(string.format("%s.wait: job %s still in progress after %.0f s (%d polls)", path, id, elapsed, polls),
                  { kind = "timeout", id = id, status = result.status, polls = polls })
      end
      lib.progress(string.format("%s %s...: in progress (%.0f s)", kind, id:sub(1, 8), elapsed))
      lib.sleep(interval)
    end
  end

  return { wait = wait }
end
