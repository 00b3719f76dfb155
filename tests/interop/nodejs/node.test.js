'use strict';
// The DataStax Node.js driver (a second, independent implementation) against `zdm node`.
const test = require('node:test');
const assert = require('node:assert');
const cassandra = require('cassandra-driver');
const { startNode } = require('./zdm_procs');

function client(node, extra = {}) {
  return new cassandra.Client({
    contactPoints: [`${node.host}:${node.port}`],
    localDataCenter: 'dc1',
    ...extra,
  });
}

test('Node.js driver: schema, prepared writes, reads, paging, errors', async (t) => {
  const node = await startNode();
  const c = client(node);
  t.after(async () => { await c.shutdown(); await node.stop(); });
  await c.connect();
  const local = await c.execute('SELECT cluster_name, release_version FROM system.local');
  assert.strictEqual(local.first().cluster_name, 'nodejs');

  await c.execute("CREATE KEYSPACE js WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}");
  await c.execute('CREATE TABLE js.items (id uuid, n int, tags set<text>, price decimal, at timestamp, ' +
    'PRIMARY KEY (id, n))');
  const id = cassandra.types.Uuid.random();
  const at = new Date('2026-11-30T12:00:00Z');
  for (let n = 0; n < 250; n++) {
    await c.execute('INSERT INTO js.items (id, n, tags, price, at) VALUES (?, ?, ?, ?, ?)',
      [id, n, ['a', `t${n % 3}`], cassandra.types.BigDecimal.fromString('19.99'), at], { prepare: true });
  }
  const one = await c.execute('SELECT * FROM js.items WHERE id = ? AND n = ?', [id, 42], { prepare: true });
  const row = one.first();
  assert.strictEqual(row.n, 42);
  assert.deepStrictEqual([...row.tags].sort(), ['a', 't0']);
  assert.strictEqual(row.price.toString(), '19.99');
  assert.strictEqual(row.at.getTime(), at.getTime());

  // Paging with the driver's eachRow/autoPage over a 250-row partition, 40 rows a page.
  const seen = [];
  await new Promise((resolve, reject) => {
    c.eachRow('SELECT n FROM js.items WHERE id = ?', [id], { prepare: true, fetchSize: 40, autoPage: true },
      (i, r) => seen.push(r.n), (err) => (err ? reject(err) : resolve()));
  });
  assert.deepStrictEqual(seen, Array.from({ length: 250 }, (_, i) => i));

  // Metadata: the driver read system_schema.
  const table = await c.metadata.getTable('js', 'items');
  assert.deepStrictEqual(table.partitionKeys.map((k) => k.name), ['id']);
  assert.deepStrictEqual(table.clusteringKeys.map((k) => k.name), ['n']);

  await assert.rejects(c.execute('SELEKT 1'), (err) => err.code === cassandra.types.responseErrorCodes.syntaxError);
  await assert.rejects(c.execute('SELECT * FROM js.nope'), (err) => err.code === cassandra.types.responseErrorCodes.invalid);

  // Batch and LWT.
  await c.batch([
    { query: 'INSERT INTO js.items (id, n) VALUES (?, ?)', params: [id, 1000] },
    { query: 'DELETE FROM js.items WHERE id = ? AND n = ?', params: [id, 0] },
  ], { prepare: true });
  const count = await c.execute('SELECT count(*) FROM js.items WHERE id = ?', [id], { prepare: true });
  assert.strictEqual(count.first().count.toNumber(), 250);
  const lwt = await c.execute('INSERT INTO js.items (id, n) VALUES (?, ?) IF NOT EXISTS', [id, 1000], { prepare: true });
  assert.strictEqual(lwt.wasApplied(), false);
});

test('Node.js driver: password authentication', async (t) => {
  const node = await startNode(['--user', 'js:pw']);
  t.after(() => node.stop());
  const good = client(node, { authProvider: new cassandra.auth.PlainTextAuthProvider('js', 'pw') });
  await good.connect();
  const r = await good.execute('SELECT key FROM system.local');
  assert.strictEqual(r.first().key, 'local');
  await good.shutdown();
  const bad = client(node, { authProvider: new cassandra.auth.PlainTextAuthProvider('js', 'nope') });
  await assert.rejects(bad.connect(), (err) => {
    const inner = Object.values(err.innerErrors || {})[0];
    return inner instanceof cassandra.errors.AuthenticationError;
  });
  await bad.shutdown();
});
