-- wrk script: POST /ingest with a fresh event_id per request (so every request is a real insert, not a duplicate).
-- Environment: CG_INGEST_KEY, CG_TOKEN.
local counter = 0
local thread_id = 0
local threads = {}

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
  counter = counter + 1
  local body = string.format(
    '{"tracking_token":"%s","event_id":"bench-%d-%d-%d","provider":"openai","model":"gpt-4o-mini-2024-07-18",' ..
    '"prompt_tokens":1200,"completion_tokens":350,"cache_read_tokens":200,"user":"u%d","project":"bench"}',
    os.getenv("CG_TOKEN"), os.getenv("CG_RUN") or 0, thread_id, counter, counter % 50)
  return wrk.format(nil, "/ingest", nil, body)
end
