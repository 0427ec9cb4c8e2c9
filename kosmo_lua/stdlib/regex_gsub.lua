-- Installed at regex.gsub by kosmo_lua/stdlib/core.py. A function replacement runs in Lua (it may call anything,
-- and stays under the sandbox's limits); anything else goes straight to the host template version. The chunk
-- reaches the host functions through `host` and builds error values with `kosmo.error` (see sandbox/prelude.lua).
local template_gsub, spans = host["regex._gsub"], host["regex._spans"]
local concat, sub, type, tostring, select = table.concat, string.sub, type, tostring, select

-- The same error value a host ArgumentError gives, so scripts handle both alike.
local function argument_error(text)
  kosmo.error({ message = "regex.gsub: " .. text, kind = "argument", ["function"] = "regex.gsub",
                problems = kosmo.array({ text }) })
end

return function(subject, pattern, replacement, limit, flags, ...)
  if type(replacement) ~= "function" then
    return template_gsub(subject, pattern, replacement, limit, flags, ...)
  end
  if select("#", ...) > 0 then
    argument_error("too many arguments; expected (subject, pattern, replacement [, limit [, flags]])")
  end
  local found = spans(subject, pattern, limit, flags)
  local parts, last = {}, 1
  for i = 1, #found do
    local first, stop, groups = found[i][1], found[i][2], found[i][3]
    parts[#parts + 1] = sub(subject, last, first - 1)
    local value = replacement(groups)
    if value == nil or value == false then
      value = groups[0]
    elseif type(value) == "number" then
      value = tostring(value)
    elseif type(value) ~= "string" then
      argument_error("replacement: the function returned a " .. type(value)
        .. " (expected a string, a number, nil or false)")
    end
    parts[#parts + 1] = value
    last = stop + 1
  end
  parts[#parts + 1] = sub(subject, last)
  return concat(parts), #found
end
