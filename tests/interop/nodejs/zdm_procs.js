'use strict';
// Starts `zdm node` (and later `zdm proxy`) on ephemeral ports for the Node.js driver tests.
const { spawn } = require('node:child_process');
const path = require('node:path');

const ZDM_BIN = process.env.ZDM_BIN || path.join(__dirname, '../../../build/apps/zdm/zdm');

function startZdm(args, timeoutMs = 30000) {
  return new Promise((resolve, reject) => {
    const child = spawn(ZDM_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`zdm ${args.join(' ')} did not become ready:\n${output}`));
    }, timeoutMs);
    const onData = (chunk) => {
      output += chunk.toString();
      const m = /listening on ([0-9.]+):(\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        const admin = /admin on ([0-9.]+):(\d+)/.exec(output);
        resolve({
          child,
          host: m[1],
          port: Number(m[2]),
          adminPort: admin ? Number(admin[2]) : undefined,
          output: () => output,
          stop: () => new Promise((done) => {
            if (child.exitCode !== null) return done();
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

function startNode(extra = []) {
  return startZdm(['node', '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0',
    '--cluster-name', 'nodejs', '--datacenter', 'dc1', ...extra]);
}

module.exports = { startZdm, startNode, ZDM_BIN };
