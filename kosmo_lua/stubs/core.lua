-- The globals every kosmo script has, besides the integrations: json, regex, docs, dump, sleep, print, parallel,
-- mcp and app. Read by lua-language-server only; the sandbox provides the real functions.

-- Shared value shapes ----------------------------------------------------------------------------------------------

---The JSON null marker (`json.null`): what a JSON `null` inside an array reads as, and what to send for a null.
---It is truthy, so compare with `== json.null`.
---@class kosmo.Null

---A file for a binary argument: a local path, the raw content, a table naming either, or a result another call
---returned (media, text or a saved file).
---@alias kosmo.FileInput string|kosmo.FileSpec|kosmo.MediaResult|kosmo.TextResult

---@class kosmo.FileSpec
---@field content? string the raw bytes
---@field path? string a local file (relative to the working folder)
---@field filename? string the name sent with the file
---@field content_type? string the media type sent with the file

---Media an integration returned (an image, a video, audio).
---@class kosmo.MediaResult
---@field content_type string the media type, e.g. "image/png"
---@field body_base64? string the content, base64-encoded (absent when it was written to a file with save_to)
---@field path? string where save_to wrote the content
---@field bytes? integer how many bytes save_to wrote

---A text or binary answer: `body` is the raw content as a Lua string.
---@class kosmo.TextResult
---@field body string
---@field content_type string

---The table a failed library or integration call raises; `tostring(err)` gives the full line.
---@class kosmo.Error
---@field message string what went wrong
---@field kind "argument"|"permission"|"credentials"|"http"|"transport"|"docs"|"mcp"|"mcp_tool"|string
---@field function? string the function called (read it as err["function"]: `function` is a keyword)
---@field problems? string[] every problem found in the arguments
---@field status? integer the HTTP status
---@field operation? string the function that got the HTTP error
---@field name? string a short name for the HTTP error, e.g. "not_found"
---@field body? any the decoded error body
---@field retry_after? number seconds the API asked to wait

-- json ---------------------------------------------------------------------------------------------------------------

---JSON encoding and decoding. `docs.read("json")` explains how null and empty arrays survive the trip.
---@class kosmo.json
---@field null kosmo.Null the JSON null marker
json = {}

---Encode a value as JSON text. Keys are sorted, so the same value always gives the same text.
---@param value any
---@param options? {pretty?: boolean} `pretty = true` indents by 2 spaces
---@return string
function json.encode(value, options) end

---Decode JSON text. A `null` in an object leaves the key out; in an array it reads as `json.null`.
---@param text string
---@return any
function json.decode(text) end

---Mark a table as an array, so that an empty one encodes as `[]`.
---@generic T: table
---@param t? T
---@return T
function json.array(t) end

-- regex --------------------------------------------------------------------------------------------------------------

---A match: `[0]` is the whole match, `[1]`... the groups (`false` for a group that took no part), named groups
---also by name.
---@class kosmo.RegexMatch
---@field [integer] string|false
---@field [string] string|false

---PCRE-style regular expressions (patterns without delimiters; flags "i", "m", "s", "x").
---Positions are byte positions, like `string.find`. `docs.read("regex")` has the details.
---@class kosmo.regex
regex = {}

---The first match, or nil.
---@param subject string
---@param pattern string
---@param flags? string
---@return kosmo.RegexMatch|nil
function regex.match(subject, pattern, flags) end

---Every match (an empty list when none).
---@param subject string
---@param pattern string
---@param flags? string
---@return kosmo.RegexMatch[]
function regex.match_all(subject, pattern, flags) end

---Replace every match (or the first `limit`); `$1`, `${name}` and `$0` refer to groups. Returns the new string
---and the number of replacements.
---@param subject string
---@param pattern string
---@param replacement string|fun(match: kosmo.RegexMatch): string|false|nil
---@param limit? integer
---@param flags? string
---@return string result
---@return integer count
function regex.gsub(subject, pattern, replacement, limit, flags) end

---Like `string.find`: 1-based inclusive byte positions of the first match, then its captures; nil when none.
---@param subject string
---@param pattern string
---@param flags? string
---@param init? integer
---@return integer|nil first
---@return integer|nil last
---@return string ... captures
function regex.find(subject, pattern, flags, init) end

---Split at every match; `limit` is the most pieces to return (the last keeps the rest).
---@param subject string
---@param pattern string
---@param limit? integer
---@param flags? string
---@return string[]
function regex.split(subject, pattern, limit, flags) end

---Whether the pattern matches anywhere in the subject.
---@param subject string
---@param pattern string
---@param flags? string
---@return boolean
function regex.test(subject, pattern, flags) end

---The text with every special character escaped, to match it literally.
---@param text string
---@return string
function regex.escape(text) end

-- docs ---------------------------------------------------------------------------------------------------------------

---@class kosmo.DocEntry
---@field name string the page name to pass to docs.read
---@field title string
---@field summary string

---@class kosmo.DocHit: kosmo.DocEntry
---@field snippet string
---@field score number

---The docs pages: the library, every integration and every function.
---@class kosmo.docs
docs = {}

---Every page (or the pages of one namespace, e.g. "replicate").
---@param namespace? string
---@return kosmo.DocEntry[]
function docs.list(namespace) end

---Pages matching the words of a query, best first.
---@param query string
---@param limit? integer default 10
---@return kosmo.DocHit[]
function docs.search(query, limit) end

---One page as Markdown text, e.g. "overview", "errors", "replicate" or "replicate.create_prediction".
---@param page string
---@return string
function docs.read(page) end

-- output and time ----------------------------------------------------------------------------------------------------

---Print a readable rendering of a value and return it unchanged, so it can wrap any expression.
---@generic T
---@param value T
---@param ... any more values, each rendered and returned
---@return T
---@return any ...
function dump(value, ...) end

---Wait this many seconds. The time counts against the script's time limit.
---@param seconds number
function sleep(seconds) end

---Write one line of output: the arguments converted with tostring, joined by tabs.
---@param ... any
function print(...) end

---Run functions concurrently and return their results in the order of `tasks` (calls that wait on the network,
---and `sleep`, overlap). `max` (1 to 64, default 8) limits how many run at the same time. With `errors = "raise"`
---(the default) a failed task raises one error table after all tasks finished; `errors = "collect"` returns
---`{ok = true, value = ...}` or `{ok = false, error = ...}` for each task instead.
---@generic T
---@param tasks (fun(): T)[]
---@param options? {max?: integer, errors?: "raise"|"collect"}
---@return T[]
function parallel(tasks, options) end

-- os (the sandbox keeps only these four) -----------------------------------------------------------------------------

---@class kosmo.os
os = {}

---Seconds since the epoch, or the time a date table describes.
---@param date? table
---@return integer
function os.time(date) end

---Processor time used by the script, in seconds.
---@return number
function os.clock() end

---A date formatted with `format` (strftime-like; "*t" gives a table, a leading "!" means UTC).
---@param format? string
---@param time? integer
---@return string|table
function os.date(format, time) end

---The difference in seconds between two times.
---@param t2 integer
---@param t1 integer
---@return number
function os.difftime(t2, t1) end

-- MCP ----------------------------------------------------------------------------------------------------------------

---@class kosmo.McpServer
---@field name string
---@field read string
---@field write string
---@field running boolean

---@class kosmo.McpTool
---@field server string
---@field name string
---@field title? string
---@field description? string
---@field access "read"|"write"

---Tools, resources and prompts of the MCP servers the user configured. `docs.read("mcp")` explains.
---@class kosmo.mcp
mcp = {}

---Every configured server (none is started).
---@return kosmo.McpServer[]
function mcp.servers() end

---The tools of one server, or of every server.
---@param server? string
---@return kosmo.McpTool[]
function mcp.tools(server) end

---A tool's input JSON Schema.
---@param tool string "server.tool"
---@return table
function mcp.schema(tool) end

---Call a tool by name: the same as `app.mcp.<server>.<tool>(args)`.
---@param tool string "server.tool"
---@param args? table
---@return any
function mcp.call(tool, args) end

---@param server string
---@return {uri: string, name?: string, description?: string, mime_type?: string}[]
function mcp.resources(server) end

---@param server string
---@param uri string
---@return {uri: string, contents: table[], text?: string}
function mcp.read_resource(server, uri) end

---@param server string
---@return {name: string, description?: string, arguments: {name: string, required: boolean}[]}[]
function mcp.prompts(server) end

---@param server string
---@param name string
---@param args? table
---@return {description?: string, messages: {role: string, content: any}[], text?: string}
function mcp.get_prompt(server, name, args) end

---The configured MCP servers: `app.mcp.<server>.<tool>({...})`.
---@class kosmo.McpServers
---@field [string] table<string, fun(args?: table): any>

-- app ----------------------------------------------------------------------------------------------------------------

---@class kosmo.App
---@field integrations kosmo.Integrations the integrations: `app.integrations.<name>.<function>({...})`
---@field mcp kosmo.McpServers the MCP servers: `app.mcp.<server>.<tool>({...})`
app = {}
