-- bench/http/lookup.lua — wrk script of bench/http/run.sh: POSTs
-- /get-online-features lookups of BATCH random entities (1..N) x the
-- features in FEATURES (env), from a pool of 1,000 bodies made at start.
local batch = tonumber(os.getenv("BATCH") or "1")
local n = tonumber(os.getenv("ENTITIES") or "100000")
local features = os.getenv("FEATURES") or "bench:f0"
local bodies = {}
local next_body = 1

function init(args)
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
  local fs = {}
  for f in string.gmatch(features, "[^,]+") do fs[#fs + 1] = '"' .. f .. '"' end
  for b = 1, 1000 do
    local ids = {}
    for i = 1, batch do ids[i] = tostring(math.random(1, n)) end
    bodies[b] = '{"features": [' .. table.concat(fs, ",") .. '], "entities": {"customer_id": [' ..
                table.concat(ids, ",") .. ']}}'
  end
end

function request()
  local body = bodies[next_body]
  next_body = next_body % #bodies + 1
  return wrk.format("POST", "/get-online-features", { ["Content-Type"] = "application/json" }, body)
end
