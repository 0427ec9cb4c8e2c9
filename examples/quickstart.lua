-- quickstart.lua: the README's first command runs this. With no REPLICATE_API_TOKEN it talks to the built-in
-- Replicate emulator (--offline=auto), so it works on a fresh machine with no network.
local replicate = app.integrations.replicate

-- Who are we? (get_account also answers to get_authenticated_account.)
local me = replicate.get_account({})
print("account: " .. me.username)

-- Run a model and wait for its output.
local prediction = replicate.run({
  model = "black-forest-labs/flux-schnell",
  input = { prompt = "a quiet forest trail at dawn" },
})
print("prediction " .. prediction.id .. ": " .. prediction.status)
print("output: " .. json.encode(prediction.output))

-- Walk every public model, page by page, and keep the image models.
local image_models = {}
for model in replicate.paginate("list_models") do
  if regex.test(model.name, "flux|sdxl|diffusion", "i") then
    image_models[#image_models + 1] = model.owner .. "/" .. model.name
  end
end
print("image models: " .. table.concat(image_models, ", "))

-- Errors are values you can inspect.
local ok, err = pcall(replicate.get_prediction, { prediction_id = "no-such-prediction" })
print("missing prediction -> HTTP " .. tostring(err.status) .. ": " .. err.message)

-- Every function is documented from the same operation table that builds it.
print(docs.read("replicate.create_prediction"):match("^[^\n]+"))
return { prediction = prediction.id, image_models = #image_models }
