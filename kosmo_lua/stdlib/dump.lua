-- dump(...): print a readable, stable rendering of each argument, then return the arguments unchanged.
-- Privileged set-up chunk (Sandbox.install_lua at "dump"). Written in Lua because it must see what plain-data
-- conversion refuses: functions, cycles, userdata. The rendering is Lua constructor syntax where it can be, so a
-- dump of plain data reads like the table a script would write.
--
-- `print` here is the library environment's own copy (one output line per call) and `kosmo.null` is json.null;
-- both are captured now, so a script that reassigns its print or json cannot change what dump does.
local emit, null = print, kosmo.null

local type, next, rawget, rawequal, tostring, ipairs, select = type, next, rawget, rawequal, tostring, ipairs, select
local concat, sort = table.concat, table.sort
local format, rep, gsub, match, byte = string.format, string.rep, string.gsub, string.match, string.byte
local mtype = math.type
local utf8len = utf8.len

local MAX_DEPTH = 64    -- deeper nesting is shown as <too deep>: no readable dump needs more
local WIDTH = 80        -- a table of scalars stays on one line when it fits in this many columns

local KEYWORDS = {}
for word in ([[and break do else elseif end false for function goto if in local nil not or repeat return then
  true until while]]):gmatch("%a+") do KEYWORDS[word] = true end

local ESCAPES = { ['"'] = '\\"', ['\\'] = '\\\\', ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t' }

local function escape(c)
  return ESCAPES[c] or format("\\x%02x", byte(c))
end

local function quote(s)
  -- Valid UTF-8 text keeps its characters; in a string with invalid bytes every byte >= 0x80 shows as \xHH.
  local special = utf8len(s) and '[%c"\\]' or '[%c"\\\128-\255]'
  return '"' .. gsub(s, special, escape) .. '"'
end

local function number_text(n)
  if mtype(n) == "integer" then return tostring(n) end
  if n ~= n then return "nan" end          -- tostring gives "nan" or "-nan" depending on the platform
  return tostring(n)                       -- Lua 5.4 keeps the point: 1.0 -> "1.0"
end

local function scalar(v)
  local t = type(v)
  if rawequal(v, null) then return "null" end  -- rawequal: a script's __eq must not decide this
  if t == "string" then return quote(v) end
  if t == "number" then return number_text(v) end
  if t == "nil" or t == "boolean" then return tostring(v) end
  if t == "table" then return nil end
  return "<" .. t .. ">"                    -- function, thread, userdata: never an address
end

-- Keys: numbers (by value), then strings (byte order), then booleans (false first), then the rest by type name.
local RANK = { number = 1, string = 2, boolean = 3 }

local function key_before(a, b)
  local ta, tb = type(a), type(b)
  local ra, rb = RANK[ta] or 4, RANK[tb] or 4
  if ra ~= rb then return ra < rb end
  if ra <= 2 then return a < b end
  if ta == "boolean" then return b and not a end
  return ta < tb
end

local function key_text(k)
  if type(k) == "string" and match(k, "^[%a_][%w_]*$") and not KEYWORDS[k] then return k end
  local s = scalar(k)
  return "[" .. (s or "<table>") .. "]"
end

local render

local function render_table(t, level, open)
  if open[t] then return "<cycle>", true end
  if level >= MAX_DEPTH then return "<too deep>", true end
  open[t] = true

  -- The sequence 1..n is shown without keys, like a Lua array constructor; every other key follows, sorted.
  -- Lazy namespaces (app.integrations...) build their entries when iterated: do that first so they all show.
  local lazy = kosmo.lazy_tables
  if lazy and lazy[t] then for _ in pairs(t) do end end

  local n = 0
  while rawget(t, n + 1) ~= nil do n = n + 1 end
  local keys = {}
  for k in next, t do
    if not (mtype(k) == "integer" and k >= 1 and k <= n) then keys[#keys + 1] = k end
  end
  sort(keys, key_before)

  local items, flat = {}, true
  for i = 1, n do
    local text, simple = render(rawget(t, i), level + 1, open)
    items[#items + 1] = text
    flat = flat and simple
  end
  for _, k in ipairs(keys) do
    local text, simple = render(rawget(t, k), level + 1, open)
    items[#items + 1] = key_text(k) .. " = " .. text
    flat = flat and simple
  end
  open[t] = nil

  if #items == 0 then return "{}", true end
  local line = "{ " .. concat(items, ", ") .. " }"
  if flat and #line + 2 * level <= WIDTH then return line, false end
  local pad = rep("  ", level + 1)
  return "{\n" .. pad .. concat(items, ",\n" .. pad) .. ",\n" .. rep("  ", level) .. "}", false
end

-- Returns the text and whether it is "simple" (a scalar or marker: may sit in a one-line table).
render = function(v, level, open)
  local s = scalar(v)
  if s then return s, true end
  return render_table(v, level, open)
end

return function(...)
  for i = 1, select("#", ...) do
    emit((render((select(i, ...)), 0, {})))
  end
  return ...
end
