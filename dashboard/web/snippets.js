// The ready-to-paste code the new-token dialog shows: curl, Python (standard library only) and Node.js (18+,
// built-in fetch), holding this server's URL and the token. The ingest key comes from the environment where they
// run: the dashboard does not know it.

function serverUrl() {
  // Where this page came from, without /dashboard: the API's base, also behind a path prefix.
  return new URL('.', window.location.href).href.replace(/\/$/, '');
}

export function snippets(token) {
  const url = serverUrl();
  const curl = `curl -X POST ${url}/ingest \\
  -H "X-Ingest-Key: $COST_GUARDIAN_INGEST_KEY" \\
  -H "Content-Type: application/json" \\
  -d '{"tracking_token": "${token}",
       "event_id": "chatcmpl-123", "provider": "openai", "model": "gpt-4o-mini",
       "prompt_tokens": 1200, "completion_tokens": 350}'`;
  const python = `import json, os, urllib.request

COST_GUARDIAN_URL = "${url}"
TRACKING_TOKEN = "${token}"

def report_usage(response, provider="openai"):
    """Call after each model call with the SDK's response (OpenAI or Anthropic)."""
    event = {
        "tracking_token": TRACKING_TOKEN,
        "event_id": response.id,          # a repeat with the same id is stored once
        "provider": provider,
        "model": response.model,
        "usage": response.usage.model_dump(),
    }
    request = urllib.request.Request(
        COST_GUARDIAN_URL + "/ingest",
        data=json.dumps(event).encode(),
        headers={"Content-Type": "application/json",
                 "X-Ingest-Key": os.environ["COST_GUARDIAN_INGEST_KEY"]},
    )
    urllib.request.urlopen(request, timeout=5)`;
  const node = `const COST_GUARDIAN_URL = "${url}";
const TRACKING_TOKEN = "${token}";

// Call after each model call with the SDK's response (OpenAI or Anthropic). Node.js 18+.
async function reportUsage(response, provider = "openai") {
  await fetch(\`\${COST_GUARDIAN_URL}/ingest\`, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      "X-Ingest-Key": process.env.COST_GUARDIAN_INGEST_KEY,
    },
    body: JSON.stringify({
      tracking_token: TRACKING_TOKEN,
      event_id: response.id, // a repeat with the same id is stored once
      provider,
      model: response.model,
      usage: response.usage,
    }),
    signal: AbortSignal.timeout(5000),
  });
}`;
  return { curl, python, node };
}
