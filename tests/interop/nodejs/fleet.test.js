'use strict';
// `zdm ctl` and `zdm status` under a DataStax Node.js driver workload through `zdm proxy`:
// phase 4 and rollback change where reads go without one failed request, every acknowledged
// write is on both clusters, and the proxy lists the driver among its clients.
const test = require('node:test');
const assert = require('node:assert');
const { execFile } = require('node:child_process');
const cassandra = require('cassandra-driver');
const driverPackage = require('cassandra-driver/package.json');
const { startNode, startProxy, waitUntil, ZDM_BIN } = require('./zdm_procs');

const TOKEN = `fleet-token-${process.pid}`;
const PLANTED = -1; // a row with another value on each cluster: tells which one answered

function client(host, port) {
  return new cassandra.Client({ contactPoints: [`${host}:${port}`], localDataCenter: 'dc1' });
}

// Runs `zdm args...` without blocking the event loop (the workload keeps running meanwhile).
function zdm(args, { token = TOKEN } = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ZDM_')) env[k] = v;
  if (token !== null) env.ZDM_ADMIN_TOKEN = token;
  return new Promise((resolve) => {
    execFile(ZDM_BIN, args, { env, timeout: 120000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr, text: `exit ${code}\nstdout:\n${stdout}\nstderr:\n${stderr}` });
    });
  });
}

let origin;
let target;
let proxy;
let viaProxy;
const direct = [];

test.before(async () => {
  origin = await startNode([], { clusterName: 'origin' });
  target = await startNode(['--prepared-id-salt', 'target-salt'], { clusterName: 'target' });
  proxy = await startProxy(origin, target, { settings: { ADMIN_TOKEN: TOKEN } });
  viaProxy = client(proxy.host, proxy.port);
  await viaProxy.connect();
  for (const node of [origin, target]) {
    const c = client(node.host, node.port);
    await c.connect();
    direct.push(c);
  }
});

test.after(async () => {
  for (const c of [viaProxy, ...direct]) if (c) await c.shutdown();
  for (const p of [proxy, target, origin]) if (p) await p.stop();
});

// Writes k = 0, 1, 2... and reads each one back through the proxy until stopped.
function startWorkload(table) {
  const w = { acked: [], errors: [], running: true };
  w.done = (async () => {
    for (let k = 0; w.running; k++) {
      const value = `w${k}`;
      try {
        await viaProxy.execute(`INSERT INTO ${table} (k, v) VALUES (?, ?)`, [k, value], { prepare: true });
        w.acked.push(k);
        const rs = await viaProxy.execute(`SELECT v FROM ${table} WHERE k = ?`, [k], { prepare: true });
        if (!rs.first() || rs.first().v !== value) w.errors.push(`k=${k}: read ${JSON.stringify(rs.first())}`);
      } catch (e) {
        w.errors.push(`k=${k}: ${e}`);
      }
    }
  })();
  w.progress = async (more = 20) => {
    const start = w.acked.length;
    await waitUntil(() => w.acked.length >= start + more || w.errors.length > 0,
      `${more} more acknowledged writes`, 30000);
    assert.deepStrictEqual(w.errors, []);
  };
  return w;
}

async function planted(table) {
  const rs = await viaProxy.execute(`SELECT v FROM ${table} WHERE k = ${PLANTED}`);
  return rs.first().v;
}

test('phase 4 and rollback under a Node.js driver workload', async () => {
  const admin = `127.0.0.1:${proxy.metricsPort}`;
  const ks = `fleet_js_${process.pid}`;
  await viaProxy.execute(`CREATE KEYSPACE ${ks} WITH replication = ` +
    "{'class': 'SimpleStrategy', 'replication_factor': 1}");
  const table = `${ks}.kv`;
  await viaProxy.execute(`CREATE TABLE ${table} (k int PRIMARY KEY, v text)`);
  await direct[0].execute(`INSERT INTO ${table} (k, v) VALUES (${PLANTED}, 'origin')`);
  await direct[1].execute(`INSERT INTO ${table} (k, v) VALUES (${PLANTED}, 'target')`);

  const w = startWorkload(table);
  try {
    await w.progress();
    assert.strictEqual(await planted(table), 'origin');

    let r = await zdm(['ctl', 'phase', '4', '--proxies', admin]);
    assert.strictEqual(r.code, 0, r.text);
    assert.match(r.stdout, new RegExp(`^${admin}  generation 1 -> 2  primary_cluster ORIGIN -> TARGET  ready$`, 'm'), r.text);
    await w.progress();
    assert.strictEqual(await planted(table), 'target');

    r = await zdm(['status', '--clients', '--json', '--interval', '0', '--proxies', admin]);
    assert.strictEqual(r.code, 0, r.text);
    const status = JSON.parse(r.stdout);
    assert.strictEqual(status.fleet.ready, true);
    assert.strictEqual(status.proxies[0].status.phase, 4);
    const drivers = status.proxies[0].clients.map((c) => `${c.driver_name} ${c.driver_version}`);
    assert.ok(drivers.includes(`${driverPackage.description} ${driverPackage.version}`), r.text);

    r = await zdm(['ctl', 'rollback', '--proxies', admin]);
    assert.strictEqual(r.code, 0, r.text);
    assert.match(r.stdout, /generation 2 -> 3 {2}primary_cluster TARGET -> ORIGIN {2}ready/, r.text);
    await w.progress();
    assert.strictEqual(await planted(table), 'origin');
  } finally {
    w.running = false;
    await w.done;
  }
  assert.deepStrictEqual(w.errors, []);
  assert.ok(w.acked.length >= 60, `only ${w.acked.length} writes`);
  for (const c of direct) {
    const rs = await c.execute(`SELECT k FROM ${table}`);
    const keys = new Set(rs.rows.map((row) => row.k));
    const missing = w.acked.filter((k) => !keys.has(k));
    assert.deepStrictEqual(missing, [], 'acknowledged writes missing on a cluster');
  }
});
