'use strict';
// The DataStax Node.js driver (cassandra-driver 4.8) through `zdm proxy` in front of two
// `zdm node`s: origin, and target with salted prepared ids (as two real clusters' differ).
// Every write is checked on each node with a direct client; reads must come from the primary.
const test = require('node:test');
const assert = require('node:assert');
const net = require('node:net');
const cassandra = require('cassandra-driver');
const { startNode, startProxy, adminCall, metric, waitUntil } = require('./zdm_procs');

const { protocolVersion } = cassandra.types;

function client(host, port, extra = {}) {
  return new cassandra.Client({
    contactPoints: [`${host}:${port}`],
    localDataCenter: 'dc1',
    ...extra,
  });
}

let nextKeyspace = 0;
function keyspaceName() {
  nextKeyspace += 1;
  return `js_${process.pid}_${nextKeyspace}`;
}

// Values of `column` of every row of `query` on a direct client, sorted.
async function valuesOn(c, query, column, params = []) {
  const rs = await c.execute(query, params, { prepare: params.length > 0 });
  return rs.rows.map((r) => r[column]).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function requests(node) {
  return adminCall(node, 'GET', '/counters').then((c) => c.requests);
}

// Shared origin, target, proxy and clients for the tests that need no special setup.
let origin;
let target;
let proxy;
let viaProxy;
let onOrigin;
let onTarget;
// Warnings and errors the driver logged for the shared proxy client (checked by the last test).
const driverComplaints = [];

test.before(async () => {
  // One at a time, so test.after stops whatever started if a later step fails.
  origin = await startNode([], { clusterName: 'origin' });
  target = await startNode(['--prepared-id-salt', 'target-salt'], { clusterName: 'target' });
  proxy = await startProxy(origin, target);
  viaProxy = client(proxy.host, proxy.port);
  viaProxy.on('log', (level, className, message) => {
    if (level === 'warning' || level === 'error') driverComplaints.push(`${level} ${className}: ${message}`);
  });
  onOrigin = client(origin.host, origin.port);
  onTarget = client(target.host, target.port);
  await Promise.all([viaProxy.connect(), onOrigin.connect(), onTarget.connect()]);
});

test.after(async () => {
  for (const c of [viaProxy, onOrigin, onTarget]) if (c) await c.shutdown();
  for (const p of [proxy, target, origin]) if (p) await p.stop();
});

// A fresh keyspace with table kv (k int PRIMARY KEY, v text), created through the proxy.
async function kvTable(c = viaProxy) {
  const ks = keyspaceName();
  await c.execute(`CREATE KEYSPACE ${ks} WITH replication = ` +
    "{'class': 'SimpleStrategy', 'replication_factor': 1}");
  await c.execute(`CREATE TABLE ${ks}.kv (k int PRIMARY KEY, v text)`);
  return `${ks}.kv`;
}

test('the driver connects through the proxy and sees the virtual topology', async () => {
  const local = await viaProxy.execute('SELECT cluster_name, data_center FROM system.local');
  assert.strictEqual(local.first().cluster_name, 'origin');
  assert.strictEqual(local.first().data_center, 'dc1');
  const hosts = viaProxy.hosts.values();
  assert.strictEqual(hosts.length, 1);
  assert.strictEqual(hosts[0].address, `${proxy.host}:${proxy.port}`);
  assert.ok(hosts[0].isUp());
});

test('DDL, simple and prepared writes land on both clusters', async () => {
  const table = await kvTable();
  const [ks, name] = table.split('.');
  // DDL reached both nodes: each one's own schema lists the table.
  for (const c of [onOrigin, onTarget]) {
    const t = await waitUntil(() => c.metadata.getTable(ks, name), `${table} in direct metadata`);
    assert.deepStrictEqual(t.partitionKeys.map((k) => k.name), ['k']);
  }
  // The driver's own metadata through the proxy (system_schema read from origin).
  const meta = await viaProxy.metadata.getTable(ks, name);
  assert.deepStrictEqual(meta.columns.map((col) => col.name).sort(), ['k', 'v']);

  await viaProxy.execute(`INSERT INTO ${table} (k, v) VALUES (1, 'literal')`);
  await viaProxy.execute(`INSERT INTO ${table} (k, v) VALUES (?, ?)`, [2, 'hinted'],
    { hints: ['int', 'text'] });
  for (let k = 3; k < 23; k++) {
    await viaProxy.execute(`INSERT INTO ${table} (k, v) VALUES (?, ?)`, [k, `prepared ${k}`],
      { prepare: true });
  }
  await viaProxy.execute(`UPDATE ${table} SET v = ? WHERE k = ?`, ['updated', 3], { prepare: true });
  await viaProxy.execute(`DELETE FROM ${table} WHERE k = ?`, [4], { prepare: true });

  const expected = [1, 2, ...Array.from({ length: 20 }, (_, i) => i + 3).filter((k) => k !== 4)];
  for (const c of [onOrigin, onTarget]) {
    assert.deepStrictEqual(await valuesOn(c, `SELECT k FROM ${table}`, 'k'), expected);
    const three = await c.execute(`SELECT v FROM ${table} WHERE k = 3`);
    assert.strictEqual(three.first().v, 'updated');
  }

  await viaProxy.execute(`ALTER TABLE ${table} ADD extra int`);
  await viaProxy.execute(`UPDATE ${table} SET extra = ? WHERE k = ?`, [7, 1], { prepare: true });
  for (const c of [onOrigin, onTarget]) {
    const one = await c.execute(`SELECT extra FROM ${table} WHERE k = 1`);
    assert.strictEqual(one.first().extra, 7);
  }
  await viaProxy.execute(`DROP TABLE ${table}`);
  for (const c of [onOrigin, onTarget]) {
    await assert.rejects(c.execute(`SELECT * FROM ${table}`),
      (err) => err.code === cassandra.types.responseErrorCodes.invalid);
  }
});

test('reads come from the primary cluster only', async (t) => {
  const table = await kvTable();
  // Different data on each cluster, written directly.
  await onOrigin.execute(`INSERT INTO ${table} (k, v) VALUES (1, 'origin')`);
  await onTarget.execute(`INSERT INTO ${table} (k, v) VALUES (1, 'target')`);
  await onTarget.execute(`INSERT INTO ${table} (k, v) VALUES (2, 'target only')`);

  // Harmless rules (0 ms delay) that count the reads if they ever reach target.
  const pattern = `SELECT .* FROM ${table.replace('.', '\\.')}`;
  const spies = [];
  for (const opcode of ['QUERY', 'EXECUTE']) {
    spies.push(await adminCall(target, 'POST', '/faults', { opcode, query: pattern, action: 'delay', delay_ms: 0 }));
  }
  t.after(async () => { for (const spy of spies) await adminCall(target, 'DELETE', `/faults/${spy.id}`); });
  const before = await adminCall(target, 'GET', '/counters');
  const simple = await viaProxy.execute(`SELECT k, v FROM ${table}`);
  assert.deepStrictEqual(simple.rows.map((r) => [r.k, r.v]), [[1, 'origin']]);
  const prepared = await viaProxy.execute(`SELECT v FROM ${table} WHERE k = ?`, [1], { prepare: true });
  assert.strictEqual(prepared.first().v, 'origin');
  const missing = await viaProxy.execute(`SELECT v FROM ${table} WHERE k = ?`, [2], { prepare: true });
  assert.strictEqual(missing.rowLength, 0);
  // Target saw the PREPAREs (prepared on both) but none of the reads.
  const after = await adminCall(target, 'GET', '/counters');
  assert.strictEqual(after.faults_fired, before.faults_fired);
  assert.ok(after.requests.PREPARE > before.requests.PREPARE);

  // With PRIMARY_CLUSTER=TARGET the same reads answer from target.
  const toTarget = await startProxy(origin, target, { settings: { PRIMARY_CLUSTER: 'TARGET' } });
  const c = client(toTarget.host, toTarget.port);
  t.after(async () => { await c.shutdown(); await toTarget.stop(); });
  await c.connect();
  const fromTarget = await c.execute(`SELECT v FROM ${table} WHERE k = ?`, [2], { prepare: true });
  assert.strictEqual(fromTarget.first().v, 'target only');
  const both = await c.execute(`SELECT k, v FROM ${table}`);
  assert.deepStrictEqual(both.rows.map((r) => [r.k, r.v]).sort(), [[1, 'target'], [2, 'target only']]);
});

test('batches (logged, unlogged, prepared and simple) land on both clusters', async () => {
  const table = await kvTable();
  await viaProxy.batch([
    { query: `INSERT INTO ${table} (k, v) VALUES (?, ?)`, params: [1, 'a'] },
    { query: `INSERT INTO ${table} (k, v) VALUES (?, ?)`, params: [2, 'b'] },
    { query: `UPDATE ${table} SET v = ? WHERE k = ?`, params: ['c', 3] },
  ], { prepare: true });
  await viaProxy.batch([
    `INSERT INTO ${table} (k, v) VALUES (4, 'd')`,
    `INSERT INTO ${table} (k, v) VALUES (5, 'e')`,
  ], { logged: false });
  await viaProxy.batch([
    { query: `INSERT INTO ${table} (k, v) VALUES (6, 'f')` },
    { query: `INSERT INTO ${table} (k, v) VALUES (?, ?)`, params: [7, 'g'] },
    { query: `DELETE FROM ${table} WHERE k = ?`, params: [1] },
  ], { prepare: true, logged: false });
  for (const c of [onOrigin, onTarget]) {
    const rs = await c.execute(`SELECT k, v FROM ${table}`);
    assert.deepStrictEqual(rs.rows.map((r) => [r.k, r.v]).sort(),
      [[2, 'b'], [3, 'c'], [4, 'd'], [5, 'e'], [6, 'f'], [7, 'g']]);
  }
});

test('paging (fetchSize) over 1200 rows', async () => {
  const ks = keyspaceName();
  await viaProxy.execute(`CREATE KEYSPACE ${ks} WITH replication = ` +
    "{'class': 'SimpleStrategy', 'replication_factor': 1}");
  await viaProxy.execute(`CREATE TABLE ${ks}.wide (p int, c int, v text, PRIMARY KEY (p, c))`);
  const params = Array.from({ length: 1200 }, (_, i) => [i % 3, i, `v${i}`]);
  // 1000 requests in flight on one connection: the proxy maps them onto its upstream stream ids.
  await cassandra.concurrent.executeConcurrent(viaProxy,
    `INSERT INTO ${ks}.wide (p, c, v) VALUES (?, ?, ?)`, params, { concurrencyLevel: 1000 });
  for (const c of [onOrigin, onTarget]) {
    const n = await c.execute(`SELECT count(*) FROM ${ks}.wide`);
    assert.strictEqual(n.first().count.toNumber(), 1200);
  }

  // One partition (400 rows), automatic paging with eachRow, 64 rows a page.
  const seen = [];
  await new Promise((resolve, reject) => {
    viaProxy.eachRow(`SELECT c FROM ${ks}.wide WHERE p = ?`, [1],
      { prepare: true, fetchSize: 64, autoPage: true },
      (i, r) => seen.push(r.c), (err) => (err ? reject(err) : resolve()));
  });
  assert.deepStrictEqual(seen, Array.from({ length: 400 }, (_, i) => 3 * i + 1));

  // The whole table, pages fetched by hand with pageState (simple statement, then prepared).
  for (const prepare of [false, true]) {
    const all = [];
    let pageState;
    let pages = 0;
    do {
      const rs = await viaProxy.execute(`SELECT c FROM ${ks}.wide`, [], { prepare, fetchSize: 250, pageState });
      all.push(...rs.rows.map((r) => r.c));
      pageState = rs.pageState;
      pages += 1;
      assert.ok(rs.rowLength <= 250);
    } while (pageState);
    assert.ok(pages >= 5, `${pages} pages`);
    assert.deepStrictEqual(all.sort((a, b) => a - b), Array.from({ length: 1200 }, (_, i) => i));
  }

  // The stream API, 100 rows a page.
  let streamed = 0;
  await new Promise((resolve, reject) => {
    viaProxy.stream(`SELECT v FROM ${ks}.wide WHERE p = ?`, [2], { prepare: true, fetchSize: 100 })
      .on('readable', function onReadable() { while (this.read()) streamed += 1; })
      .on('end', resolve).on('error', reject);
  });
  assert.strictEqual(streamed, 400);
});

test('prepared statements keep working after a cluster forgets them', async () => {
  const table = await kvTable();
  const insert = `INSERT INTO ${table} (k, v) VALUES (?, ?)`;
  const select = `SELECT v FROM ${table} WHERE k = ?`;
  await viaProxy.execute(insert, [1, 'one'], { prepare: true });
  assert.strictEqual((await viaProxy.execute(select, [1], { prepare: true })).first().v, 'one');

  let k = 2;
  for (const forget of [[target], [origin], [origin, target]]) {
    const before = await Promise.all([requests(origin), requests(target)]);
    for (const node of forget) await adminCall(node, 'POST', '/prepared/clear');
    // The next EXECUTE meets UNPREPARED: the driver re-prepares (on both, through the proxy)
    // and retries, without an error reaching the application.
    await viaProxy.execute(insert, [k, `v${k}`], { prepare: true });
    assert.strictEqual((await viaProxy.execute(select, [k], { prepare: true })).first().v, `v${k}`);
    // A prepared BATCH after forgetting again.
    for (const node of forget) await adminCall(node, 'POST', '/prepared/clear');
    await viaProxy.batch([
      { query: insert, params: [k + 100, 'batched'] },
      { query: insert, params: [k + 200, 'batched'] },
    ], { prepare: true });
    const after = await Promise.all([requests(origin), requests(target)]);
    for (const [i, node] of [origin, target].entries()) {
      if (forget.includes(node)) {
        assert.ok(after[i].PREPARE > before[i].PREPARE, `${node === origin ? 'origin' : 'target'} re-prepared`);
      }
    }
    for (const c of [onOrigin, onTarget]) {
      assert.deepStrictEqual(await valuesOn(c, `SELECT v FROM ${table} WHERE k IN (?, ?, ?)`, 'v',
        [k, k + 100, k + 200]), ['batched', 'batched', `v${k}`]);
    }
    k += 1;
  }
});

test('large values, identical client timestamps, counters, LWT and a keyspace-bound client', async (t) => {
  const table = await kvTable();
  const [ks] = table.split('.');
  await viaProxy.execute(`CREATE TABLE ${ks}.blobs (k int PRIMARY KEY, b blob)`);
  await viaProxy.execute(`CREATE TABLE ${ks}.hits (k int PRIMARY KEY, n counter)`);
  // A 3 MiB value crosses many socket reads on each hop.
  const big = Buffer.alloc(3 * 1024 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 255;
  await viaProxy.execute(`INSERT INTO ${ks}.blobs (k, b) VALUES (?, ?)`, [1, big], { prepare: true });
  const back = await viaProxy.execute(`SELECT b FROM ${ks}.blobs WHERE k = ?`, [1], { prepare: true });
  assert.ok(back.first().b.equals(big));
  // The driver's client-side timestamp reaches both clusters unchanged.
  const stamps = [];
  for (const c of [onOrigin, onTarget]) {
    const rs = await c.execute(`SELECT b, WRITETIME(b) AS w FROM ${ks}.blobs WHERE k = 1`);
    assert.ok(rs.first().b.equals(big));
    stamps.push(rs.first().w.toString());
  }
  assert.strictEqual(stamps[0], stamps[1]);

  for (let i = 0; i < 3; i++) {
    await viaProxy.execute(`UPDATE ${ks}.hits SET n = n + ? WHERE k = ?`,
      [cassandra.types.Long.fromNumber(5), 1], { prepare: true });
  }
  for (const c of [onOrigin, onTarget]) {
    assert.strictEqual((await c.execute(`SELECT n FROM ${ks}.hits WHERE k = 1`)).first().n.toNumber(), 15);
  }
  const lwt = `INSERT INTO ${table} (k, v) VALUES (?, ?) IF NOT EXISTS`;
  assert.strictEqual((await viaProxy.execute(lwt, [1, 'first'], { prepare: true })).wasApplied(), true);
  assert.strictEqual((await viaProxy.execute(lwt, [1, 'second'], { prepare: true })).wasApplied(), false);

  // A client bound to the keyspace (USE on every connection), unqualified names.
  const bound = client(proxy.host, proxy.port, { keyspace: ks });
  t.after(() => bound.shutdown());
  await bound.connect();
  await bound.execute('INSERT INTO kv (k, v) VALUES (?, ?)', [2, 'bound'], { prepare: true });
  await bound.execute("INSERT INTO kv (k, v) VALUES (3, 'bound simple')");
  for (const c of [onOrigin, onTarget]) {
    assert.deepStrictEqual(await valuesOn(c, `SELECT v FROM ${table}`, 'v'), ['bound', 'bound simple', 'first']);
  }
});

test('a slow or failing target: driver timeouts and errors, the connection keeps working', async (t) => {
  const table = await kvTable();
  const c = client(proxy.host, proxy.port, { socketOptions: { readTimeout: 1000 } });
  t.after(() => c.shutdown());
  await c.connect();
  const insert = `INSERT INTO ${table} (k, v) VALUES (?, ?)`;
  await c.execute(insert, [1, 'warm'], { prepare: true });

  // Target answers writes late: the proxy waits for both, so the driver times out. Its late
  // answer is delivered on a stream id the driver still holds, then the connection goes on.
  const slow = await adminCall(target, 'POST', '/faults',
    { opcode: 'EXECUTE', query: table.replace('.', '\\.'), action: 'delay', delay_ms: 3000, count: 1 });
  t.after(() => adminCall(target, 'DELETE', `/faults/${slow.id}`).catch(() => {}));
  await assert.rejects(c.execute(insert, [2, 'slow'], { prepare: true }),
    (err) => err instanceof cassandra.errors.OperationTimedOutError);
  // Reads come from origin alone: not slowed down.
  assert.strictEqual((await c.execute(`SELECT v FROM ${table} WHERE k = ?`, [1], { prepare: true })).first().v, 'warm');
  // The delayed write still happened on both clusters.
  await waitUntil(async () => (await onTarget.execute(`SELECT v FROM ${table} WHERE k = 2`)).rowLength === 1,
    'the delayed write on target');
  for (let k = 3; k < 13; k++) await c.execute(insert, [k, 'after'], { prepare: true });
  for (const direct of [onOrigin, onTarget]) {
    const n = await direct.execute(`SELECT count(*) FROM ${table}`);
    assert.strictEqual(n.first().count.toNumber(), 12);
  }

  // A write error on target alone reaches the client as that error.
  const failing = await adminCall(target, 'POST', '/faults',
    { opcode: 'QUERY', query: 'k = 99', action: 'error', error: 'WRITE_TIMEOUT', count: 1 });
  t.after(() => adminCall(target, 'DELETE', `/faults/${failing.id}`).catch(() => {}));
  await assert.rejects(c.execute(`UPDATE ${table} SET v = 'x' WHERE k = 99`),
    (err) => err.code === cassandra.types.responseErrorCodes.writeTimeout);
  await assert.rejects(c.execute('SELEKT 1'), (err) => err.code === cassandra.types.responseErrorCodes.syntaxError);
  assert.strictEqual((await c.execute(`SELECT count(*) FROM ${table}`)).first().count.toNumber(), 13);
});

test('protocol versions: negotiated from DSE_V2 down, and v3/v4 forced', async (t) => {
  // The driver starts at its highest version (DSE_V2); the proxy answers "Invalid or unsupported
  // protocol version" and the driver steps down to v4 (the Cassandra version after DSE ones).
  assert.strictEqual(viaProxy.controlConnection.protocolVersion, protocolVersion.v4);
  for (const version of [protocolVersion.v3, protocolVersion.v4]) {
    const c = client(proxy.host, proxy.port, { protocolOptions: { maxVersion: version } });
    t.after(() => c.shutdown());
    await c.connect();
    assert.strictEqual(c.controlConnection.protocolVersion, version);
    const table = await kvTable(c);
    for (let k = 0; k < 30; k++) {
      await c.execute(`INSERT INTO ${table} (k, v) VALUES (?, ?)`, [k, `v${version}`], { prepare: true });
    }
    const rows = [];
    await new Promise((resolve, reject) => {
      c.eachRow(`SELECT k, v FROM ${table}`, [], { prepare: true, fetchSize: 7, autoPage: true },
        (i, r) => rows.push(r.k), (err) => (err ? reject(err) : resolve()));
    });
    assert.strictEqual(rows.length, 30);
    for (const direct of [onOrigin, onTarget]) {
      const n = await direct.execute(`SELECT count(*) FROM ${table}`);
      assert.strictEqual(n.first().count.toNumber(), 30);
    }
  }
});

test('a blocked middle version (v4 blocked, v3 and v5 served): the driver settles on v3', async (t) => {
  const p = await startProxy(origin, target, { settings: { BLOCKED_PROTOCOL_VERSIONS: 'v4' } });
  const c = client(p.host, p.port);
  t.after(async () => { await c.shutdown(); await p.stop(); });
  // Bounded: a refusal answered in v5 (a version this driver does not know) made it retry v4
  // forever.
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error('no connection within 15 s')), 15000);
  });
  try {
    await Promise.race([c.connect(), deadline]);
  } finally {
    clearTimeout(timer);
  }
  assert.strictEqual(c.controlConnection.protocolVersion, protocolVersion.v3);
  const table = await kvTable(c);
  await c.execute(`INSERT INTO ${table} (k, v) VALUES (?, ?)`, [1, 'v3'], { prepare: true });
  for (const direct of [onOrigin, onTarget]) {
    assert.deepStrictEqual(await valuesOn(direct, `SELECT v FROM ${table}`, 'v'), ['v3']);
  }
});

// No cassandra-driver release (to 4.10) speaks v5 or compresses: tests/interop/proxy covers both.

test('authentication with PlainTextAuthProvider against auth-enabled clusters', async (t) => {
  const started = [];
  const clients = [];
  t.after(async () => {
    for (const c of clients) await c.shutdown();
    for (const x of started.reverse()) await x.stop();
  });
  const authOrigin = await startNode(['--user', 'proxy_o:Pw-Orig-1', '--user', 'app_o:Pw-AppO-2'],
    { clusterName: 'auth-origin' });
  started.push(authOrigin);
  const authTarget = await startNode(['--prepared-id-salt', 't', '--user', 'proxy_t:Pw-Tgt-4',
    '--user', 'app_t:Pw-AppT-3'], { clusterName: 'auth-target' });
  started.push(authTarget);
  // The proxy's control connections log in with its own users; sessions relay the client's.
  const p = await startProxy(authOrigin, authTarget, {
    settings: {
      ORIGIN_USERNAME: 'proxy_o', ORIGIN_PASSWORD: 'Pw-Orig-1',
      TARGET_USERNAME: 'proxy_t', TARGET_PASSWORD: 'Pw-Tgt-4',
    },
  });
  started.push(p);
  const directO = client(authOrigin.host, authOrigin.port,
    { authProvider: new cassandra.auth.PlainTextAuthProvider('app_o', 'Pw-AppO-2') });
  const directT = client(authTarget.host, authTarget.port,
    { authProvider: new cassandra.auth.PlainTextAuthProvider('app_t', 'Pw-AppT-3') });
  // Client credentials go to target (as the reference proxy); origin gets ORIGIN_USERNAME.
  const good = client(p.host, p.port,
    { authProvider: new cassandra.auth.PlainTextAuthProvider('app_t', 'Pw-AppT-3') });
  clients.push(good, directO, directT);
  await Promise.all([good.connect(), directO.connect(), directT.connect()]);
  const table = await kvTable(good);
  await good.execute(`INSERT INTO ${table} (k, v) VALUES (?, ?)`, [1, 'auth'], { prepare: true });
  await good.execute(`INSERT INTO ${table} (k, v) VALUES (2, 'auth simple')`);
  for (const c of [directO, directT]) {
    assert.deepStrictEqual(await valuesOn(c, `SELECT v FROM ${table}`, 'v'), ['auth', 'auth simple']);
  }
  assert.strictEqual((await good.execute(`SELECT v FROM ${table} WHERE k = ?`, [1], { prepare: true })).first().v, 'auth');

  const authFailure = (err) => {
    const inner = Object.values(err.innerErrors || {})[0];
    return inner instanceof cassandra.errors.AuthenticationError;
  };
  const bad = client(p.host, p.port,
    { authProvider: new cassandra.auth.PlainTextAuthProvider('app_t', 'wrong') });
  await assert.rejects(bad.connect(), authFailure);
  await bad.shutdown();
  // Origin's application user is not a target user: credentials go to target, so refused.
  const originUser = client(p.host, p.port,
    { authProvider: new cassandra.auth.PlainTextAuthProvider('app_o', 'Pw-AppO-2') });
  await assert.rejects(originUser.connect(), authFailure);
  await originUser.shutdown();
  const none = client(p.host, p.port);
  await assert.rejects(none.connect());
  await none.shutdown();
  // The password never shows in the proxy's output.
  for (const secret of ['Pw-AppT-3', 'Pw-Orig-1', 'Pw-Tgt-4']) assert.ok(!p.output().includes(secret));
});

test('token-aware routing over a fleet of 3 proxies', async (t) => {
  const port = await freePort();
  const addresses = ['127.0.0.1', '127.0.0.2', '127.0.0.3'];
  const fleet = [];
  t.after(async () => { for (const p of fleet) await p.stop(); });
  for (const [i, listen] of addresses.entries()) {
    fleet.push(await startProxy(origin, target, {
      listen,
      settings: {
        PROXY_LISTEN_PORT: port,
        PROXY_TOPOLOGY_ADDRESSES: addresses.join(','),
        PROXY_TOPOLOGY_INDEX: i,
      },
    }));
  }
  const c = new cassandra.Client({
    contactPoints: ['127.0.0.1'],
    localDataCenter: 'dc1',
    protocolOptions: { port },
    policies: {
      loadBalancing: new cassandra.policies.loadBalancing.TokenAwarePolicy(
        new cassandra.policies.loadBalancing.DCAwareRoundRobinPolicy('dc1')),
    },
  });
  t.after(() => c.shutdown());
  await c.connect();
  await waitUntil(() => c.hosts.values().filter((h) => h.isUp()).length === 3, '3 proxies up in the driver');
  assert.deepStrictEqual(c.hosts.keys().sort(), addresses.map((a) => `${a}:${port}`));

  const table = await kvTable(c);
  const [ks] = table.split('.');
  await waitUntil(() => c.metadata.keyspaces[ks], `keyspace ${ks} in the driver's metadata`);
  await c.metadata.refreshKeyspace(ks);
  const queried = new Set();
  for (let k = 0; k < 60; k++) {
    const rs = await c.execute(`INSERT INTO ${table} (k, v) VALUES (?, ?)`, [k, 'fleet'], { prepare: true });
    // Each write went to the proxy that owns the key's token in the virtual ring.
    const key = Buffer.alloc(4);
    key.writeInt32BE(k);
    const replicas = c.getReplicas(ks, key);
    assert.strictEqual(replicas.length, 1);
    assert.strictEqual(rs.info.queriedHost, replicas[0].address);
    queried.add(rs.info.queriedHost);
  }
  assert.strictEqual(queried.size, 3, `queried ${[...queried]}`);
  for (const p of fleet) {
    assert.ok(await metric(p, 'zdm_proxy_table_requests_total', { keyspace: ks, table: 'kv' }) > 0);
  }

  // One proxy of the fleet goes away: the driver marks it down and the other two take its keys.
  const gone = `${addresses[2]}:${port}`;
  await fleet[2].stop();
  await waitUntil(() => !c.hosts.get(gone).isUp(), `${gone} down in the driver`);
  for (let k = 60; k < 90; k++) {
    const rs = await c.execute(`INSERT INTO ${table} (k, v) VALUES (?, ?)`, [k, 'two left'], { prepare: true });
    assert.notStrictEqual(rs.info.queriedHost, gone);
  }
  for (const direct of [onOrigin, onTarget]) {
    const n = await direct.execute(`SELECT count(*) FROM ${table}`);
    assert.strictEqual(n.first().count.toNumber(), 90);
  }
});

test('the shared proxy client logged no driver warnings or errors', () => {
  assert.deepStrictEqual(driverComplaints, []);
});
