// The admin API client: the same routes any script uses, with the admin key in X-API-Key. Failures become an
// ApiError whose `kind` the screens decide on; how long to wait comes from the server's own headers.
import { state } from './state.js';

export class ApiError extends Error {
  constructor(kind, status, message, { retryAfter = null, field = null, requestId = null } = {}) {
    super(message);
    this.kind = kind;           // offline | unauthorized | rate-limited | unavailable | invalid | failed
    this.status = status;
    this.retryAfter = retryAfter;
    this.field = field;
    this.requestId = requestId;
  }
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params))
    if (value !== '' && value !== null && value !== undefined) search.set(name, String(value));
  const text = search.toString();
  return text ? `?${text}` : '';
}

function errorKind(status) {
  if (status === 401) return 'unauthorized';
  if (status === 429) return 'rate-limited';
  if (status === 503 || status === 502 || status === 504) return 'unavailable';
  if (status === 400 || status === 409 || status === 404) return 'invalid';
  return 'failed';
}

async function errorOf(response) {
  let info = {};
  try { info = await response.json(); } catch { /* not JSON: a proxy's page */ }
  let retryAfter = Number.parseInt(response.headers.get('Retry-After') || '', 10);
  // Rate limited: a refresh makes several calls at once, so waiting only until one more call passes (Retry-After)
  // would fail again; wait until the bucket is full (RateLimit-Reset), within reason.
  const reset = Number.parseInt(response.headers.get('RateLimit-Reset') || '', 10);
  if (response.status === 429 && Number.isFinite(reset)) retryAfter = Math.min(Math.max(retryAfter || 0, reset), 300);
  const options = {
    retryAfter: Number.isFinite(retryAfter) ? retryAfter : null,
    field: info.field ?? null,
    requestId: info.request_id || response.headers.get('X-Request-Id'),
  };
  const message = info.error || info.message || `${response.status} ${response.statusText}`;
  return new ApiError(errorKind(response.status), response.status, message, options);
}

// Relative URLs: the API lives beside /dashboard, also behind a proxy that adds a path prefix.
export async function api(path, { method = 'GET', body, signal, key = state.key, raw = false } = {}) {
  const headers = { 'X-API-Key': key, Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, {
      method, headers, signal, cache: 'no-store', credentials: 'omit',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new ApiError('offline', 0, 'The server cannot be reached.');
  }
  if (response.ok) return raw ? response : response.json();
  throw await errorOf(response);
}

// The filters as the API names them; the same for /costs, /data and /export.csv.
export function filterParams() {
  const f = state.filters;
  return {
    start: f.start, end: f.end, tz: state.tz, model: f.model, ingest_token_id: f.token,
    project: f.project, user: f.user,
  };
}
