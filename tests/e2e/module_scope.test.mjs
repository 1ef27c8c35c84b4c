// User code cannot close the module wrapper and run outside it: such code is a syntax error
// at deploy, while braces inside regexes, strings and templates stay ordinary characters.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, uniqueName } from './lib/server.mjs';

let srv;
before(async () => { srv = await startServer({ workers: 2 }); });
after(async () => { await srv?.close(); });

test('code that closes its module scope early is refused at deploy', async () => {
  const name = uniqueName('escape');
  const r = await srv.request('POST', '/v1/functions', {
    name, code: '}); globalThis.pwned = 1; (function(){\nmodule.exports = () => 1;\n',
  });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.body.error.code, 'invalid_argument');
  assert.match(r.body.error.message, /SyntaxError/);
  const g = await srv.request('GET', `/v1/functions/${name}`);
  assert.equal(g.status, 404, 'nothing was deployed');
});

test('braces in regexes, strings and templates are not scope', async () => {
  const name = uniqueName('braces');
  await srv.deploy(name, 'export default async () => {\n  const re = /}/; const s = "})"; const t = `}${"{"}`;\n  await 1;\n  return re.source + s + t;\n}\n');
  const rec = await srv.invoke(name, {});
  assert.equal(rec.status, 'ok', JSON.stringify(rec.error));
  assert.equal(rec.result, '}})}{');
});
