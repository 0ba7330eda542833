-- wrk script: POST /ingest/batch, a JSON array of CG_BATCH events per request (default 100), each with a fresh
-- event_id (so every event is a real insert, not a duplicate).
-- Environment: CG_INGEST_KEY, CG_TOKEN, CG_RUN (makes event ids unique across runs on one database), CG_BATCH.
local counter = 0
local thread_id = 0
local threads = {}
local batch = tonumber(os.getenv("CG_BATCH") or "100")

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  thread_id = tid
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["X-Ingest-Key"] = os.getenv("CG_INGEST_KEY")
end

function request()
  local token = os.getenv("CG_TOKEN")
  local run = os.getenv("CG_RUN") or "0"
  local events = {}
  for i = 1, batch do
    counter = counter + 1
    events[i] = string.format(
      '{"tracking_token":"%s","event_id":"bench-%s-%d-%d","provider":"openai","model":"gpt-4o-mini-2024-07-18",' ..
      '"prompt_tokens":1200,"completion_tokens":350,"cache_read_tokens":200,"user":"u%d","project":"bench"}',
      token, run, thread_id, counter, counter % 50)
  end
  return wrk.format(nil, "/ingest/batch", nil, "[" .. table.concat(events, ",") .. "]")
end
