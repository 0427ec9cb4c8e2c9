-- hello.lua: greet someone through Replicate's hello-world model and return the greeting.
local replicate = app.integrations.replicate

local model = replicate.get_model({ model_owner = "replicate", model_name = "hello-world" })
local prediction = replicate.create_prediction({
  version = model.latest_version.id,
  input = { text = "Ada" },
  prefer = "wait",            -- hold the request until the output is ready
})
print("status: " .. prediction.status)
return prediction.output
