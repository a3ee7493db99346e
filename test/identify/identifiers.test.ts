import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createIdentifier } from '../../src/identify/registry.js';
import { IdentifierChain } from '../../src/identify/chain.js';
import type { Path } from '../../src/dtab/path.js';

const show = (r: Path | string) => (typeof r === 'string' ? `unidentified: ${r}` : r.show());

test('io.l5d.header.path: gRPC :path with segments 1 names /svc/<service>', () => {
  const id = createIdentifier({ kind: 'io.l5d.header.path', header: ':path', segments: 1 }, '/svc');
  assert.equal(show(id.identify({ ':path': '/com.example.grpc.EchoService/echo' })), '/svc/com.example.grpc.EchoService');
});

test('io.l5d.header.path: segments 2, query and one trailing slash stripped, whole path without segments', () => {
  const two = createIdentifier({ kind: 'io.l5d.header.path', header: ':path', segments: 2 }, '/svc');
  assert.equal(show(two.identify({ ':path': '/pkg.Svc/Method?x=1' })), '/svc/pkg.Svc/Method');
  assert.equal(show(two.identify({ ':path': '/pkg.Svc/Method/' })), '/svc/pkg.Svc/Method');
  assert.match(show(two.identify({ ':path': '/only' })), /at least 2 segment/);
  const all = createIdentifier({ kind: 'io.l5d.header.path', header: ':path' }, '/http');
  assert.equal(show(all.identify({ ':path': '/a/b/c/' })), '/http/a/b/c');
  assert.match(show(all.identify({ ':path': '/' })), /Missing destination path/);
  assert.match(show(all.identify({ ':path': '/a//b' })), /empty segment/);
  assert.match(show(all.identify({})), /missing header/);
});

test('io.l5d.header.path: a warm answer is the same Path object (no allocation per request)', () => {
  const id = createIdentifier({ kind: 'io.l5d.header.path', header: ':path', segments: 1 }, '/svc');
  const a = id.identify({ ':path': '/pkg.Svc/A' });
  const b = id.identify({ ':path': '/pkg.Svc/A' });
  assert.equal(a, b);
});

test('io.l5d.header.token: the raw header value as one segment (default :authority)', () => {
  const id = createIdentifier({ kind: 'io.l5d.header.token', header: '' }, '/svc');
  assert.equal(show(id.identify({ ':authority': 'echo.default:4140' })), '/svc/echo.default:4140');
  const custom = createIdentifier({ kind: 'io.l5d.header.token', header: 'X-Service' }, '/svc');
  assert.equal(show(custom.identify({ 'x-service': 'users' })), '/svc/users');
  assert.match(show(custom.identify({})), /missing header: 'x-service'/);
});

test('a list of identifiers is tried in order; all reasons are reported when none names the request', () => {
  const chain = new IdentifierChain(
    [
      { kind: 'io.l5d.header.token', header: 'x-route' },
      { kind: 'io.l5d.header.path', header: ':path', segments: 1 },
    ],
    '/svc',
  );
  assert.equal(show(chain.identify({ 'x-route': 'r', ':path': '/p.S/M' })), '/svc/r');
  assert.equal(show(chain.identify({ ':path': '/p.S/M' })), '/svc/p.S');
  assert.match(show(chain.identify({})), /x-route.*; .*:path/);
  const dflt = new IdentifierChain([], '/svc');
  assert.equal(show(dflt.identify({ ':path': '/p.S/M' })), '/svc/p.S');
});
