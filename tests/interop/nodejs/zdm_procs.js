'use strict';
// Starts `zdm node` (and later `zdm proxy`) on ephemeral ports for the Node.js driver tests.
const { spawn } = require('node:child_process');
const path = require('node:path');

const ZDM_BIN = process.env.ZDM_BIN || path.join(__dirname, '../../../build/apps/zdm/zdm');

// `ready` matches the line a process prints when it serves (by default the node's); `env`
// replaces the environment (the proxy is configured through ZDM_* variables).
function startZdm(args, timeoutMs = 30000, { ready = /listening on ([0-9.]+):(\d+)/, env } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(ZDM_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env || process.env });
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`zdm ${args.join(' ')} did not become ready:\n${output}`));
    }, timeoutMs);
    const onData = (chunk) => {
      output += chunk.toString();
      const m = ready.exec(output);
      if (m) {
        clearTimeout(timer);
        const admin = /admin on ([0-9.]+):(\d+)/.exec(output);
        resolve({
          match: m,
          child,
          host: m[1],
          port: Number(m[2]),
          adminPort: admin ? Number(admin[2]) : undefined,
          output: () => output,
          stop: () => new Promise((done) => {
            if (child.exitCode !== null || child.signalCode !== null) return done();
            child.once('exit', () => done());
            child.kill('SIGTERM');
          }),
        });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`zdm ${args.join(' ')} exited with ${code}:\n${output}`));
    });
  });
}

function startNode(extra = [], { clusterName = 'nodejs' } = {}) {
  return startZdm(['node', '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0',
    '--cluster-name', clusterName, '--datacenter', 'dc1', ...extra]);
}

// The node's fault-injection / counters endpoint: adminCall(node, 'POST', '/prepared/clear').
async function adminCall(node, method, path, body) {
  const res = await fetch(`http://127.0.0.1:${node.adminPort}${path}`, {
    method,
    headers: { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${await res.text()}`);
  const text = await res.text();
  return text.trim() ? JSON.parse(text) : null;
}

// `zdm proxy` in front of origin and target; `settings` are ZDM_* names without the prefix,
// e.g. { READ_MODE: 'DUAL_ASYNC_ON_SECONDARY' }. The line must be complete (ends in a newline)
// so a port split across two output chunks is never read half.
const PROXY_READY = /zdm proxy: listening on ([0-9.]+):(\d+) \(cql\), metrics on ([0-9.]+):(\d+)\r?\n/;

async function startProxy(origin, target, { listen = '127.0.0.1', settings = {} } = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ZDM_')) env[k] = v;
  Object.assign(env, {
    ZDM_ORIGIN_CONTACT_POINTS: origin.host,
    ZDM_ORIGIN_PORT: String(origin.port),
    ZDM_TARGET_CONTACT_POINTS: target.host,
    ZDM_TARGET_PORT: String(target.port),
    ZDM_PROXY_LISTEN_ADDRESS: listen,
    ZDM_PROXY_LISTEN_PORT: '0',
    ZDM_METRICS_ADDRESS: '127.0.0.1',
    ZDM_METRICS_PORT: '0',
    ZDM_PROXY_THREADS: '2',
  });
  for (const [k, v] of Object.entries(settings)) env[`ZDM_${k}`] = String(v);
  const p = await startZdm(['proxy', '--startup-timeout', '20'], 30000, { ready: PROXY_READY, env });
  p.metricsPort = Number(p.match[4]);
  return p;
}

// The sum of the proxy's /metrics samples of `name` whose labels include `labels` (0 if none).
async function metric(proxy, name, labels = {}) {
  const text = await (await fetch(`http://127.0.0.1:${proxy.metricsPort}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    let rest = line.slice(name.length);
    const found = {};
    if (rest.startsWith('{')) {
      const close = rest.lastIndexOf('}');
      for (const m of rest.slice(1, close).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) found[m[1]] = m[2];
      rest = rest.slice(close + 1);
    } else if (!rest.startsWith(' ')) {
      continue;
    }
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) sum += Number(rest.trim());
  }
  return sum;
}

// Polls `predicate` (sync or async) until truthy; throws naming `what` after timeoutMs.
async function waitUntil(predicate, what, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

module.exports = { startZdm, startNode, startProxy, adminCall, metric, waitUntil, ZDM_BIN };
