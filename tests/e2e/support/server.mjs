// Starts the real cost-guardian binary on an ephemeral port with a temporary database, as the Python integration
// helper (tests/support/cg_server.py) does: --port 0, the first stdout line (JSON) names the port.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export const API_KEY = 'e2e-admin-key-0123456789';
export const INGEST_KEY = 'e2e-ingest-key-0123456789';

const SANITIZER_MARKERS = ['ERROR: AddressSanitizer', 'ERROR: LeakSanitizer', 'runtime error:', 'WARNING: ThreadSanitizer'];

export class Server {
  /// port: 0 for a free one (the default), or a fixed one (to restart a stopped server where the page expects it);
  /// dataDir: reuse a stopped server's folder (its database and keys).
  constructor({ env = {}, binary = process.env.CG_BINARY, port = 0, dataDir = null } = {}) {
    if (!binary) throw new Error('CG_BINARY is not set: run through ctest, or set it to build/<preset>/cost-guardian');
    this.binary = binary;
    this.requestedPort = port;
    this.dataDir = dataDir ?? mkdtempSync(join(tmpdir(), 'cg-e2e-'));
    this.env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k.endsWith('SAN_OPTIONS'))),
      API_KEY, INGEST_KEY, DATA_DIR: this.dataDir, THREADS: '2',
      ...env,
    };
    this.stderr = '';
    this.stdout = [];
  }

  async start(timeoutMs = 20000) {
    this.proc = spawn(this.binary, ['--port', String(this.requestedPort), '--host', '127.0.0.1', '--env-file', '/dev/null'],
      { cwd: this.dataDir, env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stderr.setEncoding('utf8');
    this.proc.stderr.on('data', (chunk) => { this.stderr += chunk; });
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, signal) => resolve({ code, signal })));
    const lines = createInterface({ input: this.proc.stdout });
    const first = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server printed nothing within ${timeoutMs} ms`)), timeoutMs);
      lines.once('line', (line) => { clearTimeout(timer); resolve(line); });
      this.exited.then(({ code }) => reject(new Error(`server exited (${code}) before listening: ${this.stderr}`)));
    });
    lines.on('line', (line) => this.stdout.push(line));
    const listening = JSON.parse(first);
    if (listening.event !== 'listening') throw new Error(`unexpected first line: ${first}`);
    this.port = listening.port;
    this.url = `http://127.0.0.1:${this.port}`;
    const deadline = Date.now() + 15000;
    for (;;) {
      try {
        if ((await fetch(`${this.url}/health`)).status === 200) break;
      } catch { /* not yet */ }
      if (Date.now() > deadline) throw new Error('server never became healthy');
      await new Promise((r) => setTimeout(r, 50));
    }
    return this;
  }

  /// Stops with SIGTERM; returns the exit code. The data folder is removed unless keepData.
  async stop({ keepData = false } = {}) {
    let code = null;
    if (this.proc && this.proc.exitCode === null) {
      this.proc.kill('SIGTERM');
      const killer = setTimeout(() => this.proc.kill('SIGKILL'), 30000);
      ({ code } = await this.exited);
      clearTimeout(killer);
    } else if (this.proc) {
      code = this.proc.exitCode;
    }
    if (!keepData) rmSync(this.dataDir, { recursive: true, force: true });
    return code;
  }

  sanitizerReports() {
    return this.stderr.split('\n').filter((line) => SANITIZER_MARKERS.some((m) => line.includes(m)));
  }

  async request(method, path, { body, headers = {} } = {}) {
    const init = { method, headers: { ...headers } };
    if (body !== undefined) {
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
      init.headers['Content-Type'] ??= 'application/json';
    }
    const res = await fetch(`${this.url}${path}`, init);
    const text = await res.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
    return { status: res.status, headers: res.headers, text, json };
  }

  admin(method, path, options = {}) {
    return this.request(method, path, { ...options, headers: { 'X-API-Key': API_KEY, ...options.headers } });
  }

  ingest(event) {
    return this.request('POST', '/ingest', { body: event, headers: { 'X-Ingest-Key': INGEST_KEY } });
  }
}
