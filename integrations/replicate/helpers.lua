-- Helpers beyond Replicate's API, written against the generated functions.
-- This chunk returns a constructor: helpers(ns, lib, path) -> table of functions. `ns` is the namespace the
-- helpers belong to (so `app.integrations.replicate.work.wait` polls with the `work` account), `lib` the engine's
-- primitives (sleep, now, unix_time, progress, hmac_sha256, base64_*, secure_equals, raise), `path` the Lua path
-- used in error messages. Documented in helpers.yaml beside this file.
return function(ns, lib, path)
  local TERMINAL = { succeeded = true, failed = true, canceled = true, aborted = true }

  local function fail_args(fname, message)
    error(path .. "." .. fname .. ": " .. message, 3)
  end

  local function check_table(fname, args)
    if args == nil then return {} end
    if type(args) ~= "table" then fail_args(fname, "expected a table of arguments, got " .. type(args)) end
    return args
  end

  local function check_number(fname, args, key, default, minimum)
    local v = args[key]
    if v == nil then return default end
    if type(v) ~= "number" or v < minimum then
      fail_args(fname, "parameter '" .. key .. "' expects a number >= " .. minimum .. ", got " .. tostring(v))
    end
    return v
  end

  -- Poll a prediction or training until it reaches a terminal status, backing off between polls.
  local function wait(args)
    args = check_table("wait", args)
    local kind, id, current
    if args.prediction_id ~= nil then
      kind, id = "prediction", args.prediction_id
    elseif args.training_id ~= nil then
      kind, id = "training", args.training_id
    elseif type(args.prediction) == "table" then
      kind, id, current = "prediction", args.prediction.id, args.prediction
    elseif type(args.training) == "table" then
      kind, id, current = "training", args.training.id, args.training
    else
      fail_args("wait", "pass prediction_id, training_id, prediction = <table> or training = <table>")
    end
    if type(id) ~= "string" or id == "" then
      fail_args("wait", "the " .. kind .. " id must be a non-empty string, got " .. tostring(id))
    end
    local interval = check_number("wait", args, "interval", 0.5, 0)
    local max_interval = check_number("wait", args, "max_interval", 5, 0)
    local timeout = check_number("wait", args, "timeout", nil, 0)
    local started = lib.now()
    local get = kind == "prediction" and ns.get_prediction or ns.get_training
    local key = kind .. "_id"
    while true do
      if current == nil or not TERMINAL[current.status] then
        current = get({ [key] = id })
      end
      if TERMINAL[current.status] then
        lib.progress_done()
        return current
      end
      local elapsed = lib.now() - started
      if timeout ~= nil and elapsed >= timeout then
        lib.progress_done()
        lib.raise(path .. ".wait: " .. kind .. " " .. id .. " still " .. tostring(current.status) ..
                  " after " .. timeout .. " s", { kind = "timeout", id = id, status = current.status })
      end
      lib.progress(string.format("%s %s: %s (%.0f s)", kind, id, tostring(current.status), elapsed))
      lib.sleep(interval)
      interval = math.min(interval * 1.5, max_interval)
      current = nil
    end
  end

  local function split_ref(fname, ref, what)
    local owner, name, version = ref:match("^([%w%-_%.]+)/([%w%-_%.]+):?(%x*)$")
    if not owner then
      fail_args(fname, "parameter '" .. what .. "' expects \"owner/name\" (or \"owner/name:version\"), got \"" .. ref .. "\"")
    end
    return owner, name, version ~= "" and version or nil
  end

  -- Create a prediction and wait for its result. Raises when the prediction fails or is canceled.
  local function run(args)
    args = check_table("run", args)
    local input = args.input
    if input == nil then input = {} end
    if type(input) ~= "table" then fail_args("run", "parameter 'input' expects a table, got " .. type(input)) end
    local prefer
    if args.wait ~= nil and args.wait ~= false then
      local seconds = args.wait == true and 60 or args.wait
      if type(seconds) ~= "number" or seconds < 1 or seconds > 60 or seconds % 1 ~= 0 then
        fail_args("run", "parameter 'wait' expects true or whole seconds from 1 to 60, got " .. tostring(args.wait))
      end
      prefer = "wait=" .. math.tointeger(seconds)
    end
    local common = { input = input, webhook = args.webhook, webhook_events_filter = args.webhook_events_filter }
    local prediction
    if args.deployment ~= nil then
      local owner, name = split_ref("run", tostring(args.deployment), "deployment")
      common.deployment_owner, common.deployment_name, common.prefer = owner, name, prefer
      prediction = ns.create_deployment_prediction(common)
    elseif args.model ~= nil then
      local owner, name, version = split_ref("run", tostring(args.model), "model")
      if version then
        common.version, common.prefer = version, prefer
        prediction = ns.create_prediction(common)
      else
        common.model_owner, common.model_name, common.prefer = owner, name, prefer
        prediction = ns.create_model_prediction(common)
      end
    elseif args.version ~= nil then
      common.version, common.prefer = args.version, prefer
      prediction = ns.create_prediction(common)
    else
      fail_args("run", "pass model = \"owner/name\", version = \"<id>\" or deployment = \"owner/name\"")
    end
    local final = wait({ prediction = prediction, interval = args.interval, timeout = args.timeout })
    if final.status ~= "succeeded" then
      local reason = final.error and tostring(final.error) or final.status
      lib.raise(path .. ".run: prediction " .. tostring(final.id) .. " " .. final.status .. ": " .. reason,
                { kind = "prediction", id = final.id, status = final.status, error = final.error,
                  logs = final.logs, prediction = final })
    end
    return final
  end

  local function header(headers, name)
    local wanted = name:lower()
    for k, v in pairs(headers) do
      if type(k) == "string" and k:lower() == wanted then return v end
    end
    return nil
  end

  -- Check a webhook request's signature (Replicate signs "<id>.<timestamp>.<body>" with HMAC-SHA256).
  local function validate_webhook(args)
    args = check_table("validate_webhook", args)
    if type(args.headers) ~= "table" then
      fail_args("validate_webhook", "parameter 'headers' expects a table of the request's headers")
    end
    if type(args.body) ~= "string" then
      fail_args("validate_webhook", "parameter 'body' expects the raw request body as a string")
    end
    local secret = args.secret
    if type(secret) == "table" then secret = secret.key end
    if type(secret) ~= "string" or secret == "" then
      fail_args("validate_webhook", "parameter 'secret' expects the signing secret (\"whsec_...\") or the table " ..
                "get_default_webhook_secret returned")
    end
    local id = header(args.headers, "webhook-id")
    local timestamp = header(args.headers, "webhook-timestamp")
    local signatures = header(args.headers, "webhook-signature")
    if not id or not timestamp or not signatures then
      return false, "missing webhook-id, webhook-timestamp or webhook-signature header"
    end
    local tolerance = check_number("validate_webhook", args, "tolerance", 300, 0)
    local ts = tonumber(timestamp)
    if ts == nil then return false, "webhook-timestamp is not a number" end
    if tolerance > 0 and math.abs(lib.unix_time() - ts) > tolerance then
      return false, "timestamp outside the tolerance of " .. tolerance .. " s"
    end
    local key = lib.base64_decode((secret:gsub("^whsec_", "")))
    local expected = lib.base64_encode(lib.hmac_sha256(key, id .. "." .. timestamp .. "." .. args.body))
    for entry in tostring(signatures):gmatch("%S+") do
      local sig = entry:match("^v1,(.+)$")
      if sig and lib.secure_equals(sig, expected) then return true end
    end
    return false, "no signature matches"
  end

  return { wait = wait, run = run, validate_webhook = validate_webhook }
end
