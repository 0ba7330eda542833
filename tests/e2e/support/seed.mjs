// Realistic usage for screenshots and manual checks: three tracking tokens, a few models, projects and users,
// spread over the last 45 days. Deterministic (a fixed pseudo-random sequence), pushed through POST /ingest.
const MODELS = [
  ['openai', 'gpt-4o-mini', 2200, 600],
  ['openai', 'gpt-4o', 1800, 500],
  ['anthropic', 'claude-sonnet-4-5', 2500, 700],
  ['anthropic', 'claude-3-5-haiku', 1500, 300],
  ['google', 'gemini-2.5-flash', 3000, 800],
];
const PROJECTS = ['checkout', 'support', 'search', null];
const USERS = ['alice@example.com', 'bob@example.com', 'carol@example.com', 'dan@example.com', null];

function random(seed) {
  let x = seed;
  return () => { x = (x * 1103515245 + 12345) % 2147483648; return x / 2147483648; };
}

export async function seed(server, { days = 45, perDay = 12 } = {}) {
  const labels = ['Production app', 'Support bot', 'Nightly batch'];
  const tokens = [];
  for (const label of labels) tokens.push((await server.admin('POST', '/ingest/tokens', { body: { label } })).json);
  const rnd = random(42);
  const now = Date.now();
  const events = [];
  for (let day = days - 1; day >= 0; day -= 1) {
    const count = Math.round(perDay * (0.6 + rnd() * 0.8) * (day < 30 ? 1.3 : 1));
    for (let i = 0; i < count; i += 1) {
      const [provider, model, inBase, outBase] = MODELS[Math.floor(rnd() * (rnd() < 0.7 ? 3 : MODELS.length))];
      const token = tokens[Math.floor(rnd() * tokens.length)];
      const ts = new Date(now - day * 86400000 - Math.floor(rnd() * 86400000 * (day === 0 ? 0.3 : 1)));
      events.push({
        tracking_token: token.token,
        event_id: `seed-${day}-${i}`,
        provider, model,
        prompt_tokens: Math.round(inBase * (0.3 + rnd() * 2)),
        completion_tokens: Math.round(outBase * (0.2 + rnd() * 1.8)),
        timestamp: ts.toISOString(),
        project: PROJECTS[Math.floor(rnd() * PROJECTS.length)] ?? undefined,
        user: USERS[Math.floor(rnd() * USERS.length)] ?? undefined,
      });
    }
  }
  for (let i = 0; i < events.length; i += 16) {
    const results = await Promise.all(events.slice(i, i + 16).map((e) => server.ingest(e)));
    for (const r of results) if (r.status !== 201) throw new Error(`seed ingest: ${r.status} ${r.text}`);
  }
  return { tokens, events };
}
