import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { ROOT } from '../e2e/process.js';
import { xdsRoot } from '../../src/xds/protos.js';

/**
 * The vendored subset (src/xds/proto) against the Envoy API itself (the .proto tree that
 * @grpc/grpc-js-xds, a devDependency, carries): every message, field and enum value the subset
 * declares has the same number, type, label and oneof there. A wrong field number would encode
 * resources every real client misreads.
 */
const DEPS = join(ROOT, 'node_modules/@grpc/grpc-js-xds/deps');
const INCLUDE = ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => join(DEPS, d));

function envoyRoot(): protobuf.Root {
  const root = new protobuf.Root();
  // Envoy's options import descriptor.proto, which protobufjs ships as JSON rather than as a file.
  root.addJSON((createRequire(import.meta.url)('protobufjs/google/protobuf/descriptor.json') as { nested: protobuf.INamespace['nested'] }).nested!);
  root.files.push('google/protobuf/descriptor.proto');
  root.resolvePath = (_origin, target) => INCLUDE.map((d) => join(d, target)).find((p) => existsSync(p)) ?? target;
  root.loadSync(
    [
      'envoy/service/discovery/v3/ads.proto',
      'envoy/config/listener/v3/listener.proto',
      'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
      'envoy/extensions/filters/http/router/v3/router.proto',
      'envoy/config/route/v3/route.proto',
      'envoy/config/cluster/v3/cluster.proto',
      'envoy/config/endpoint/v3/endpoint.proto',
    ],
    { keepCase: true },
  );
  root.resolveAll();
  return root;
}

function* declared(ns: protobuf.NamespaceBase): Generator<protobuf.Type | protobuf.Enum | protobuf.Service> {
  for (const nested of ns.nestedArray) {
    if (nested instanceof protobuf.Type || nested instanceof protobuf.Enum || nested instanceof protobuf.Service) yield nested;
    if (nested instanceof protobuf.Namespace || nested instanceof protobuf.Type) yield* declared(nested);
  }
}

test('every message, field, enum value and method of the vendored xDS protos matches the Envoy API', () => {
  const ours = xdsRoot();
  const envoy = envoyRoot();
  let fields = 0;
  for (const item of declared(ours)) {
    const name = item.fullName.slice(1);
    if (name.startsWith('google.protobuf.')) continue;
    const theirs = envoy.lookup(name);
    assert.ok(theirs, `${name} exists in the Envoy API`);
    if (item instanceof protobuf.Enum) {
      for (const [key, value] of Object.entries(item.values)) assert.equal((theirs as protobuf.Enum).values[key], value, `${name}.${key}`);
      continue;
    }
    if (item instanceof protobuf.Service) {
      for (const m of item.methodsArray) {
        const t: protobuf.Method = (theirs as protobuf.Service).methods[m.name]!;
        assert.deepEqual([t.resolvedRequestType!.fullName, t.resolvedResponseType!.fullName, !!t.requestStream, !!t.responseStream], [m.resolvedRequestType!.fullName, m.resolvedResponseType!.fullName, !!m.requestStream, !!m.responseStream], `${name}.${m.name}`);
      }
      continue;
    }
    for (const f of item.fieldsArray) {
      const t: protobuf.Field | undefined = (theirs as protobuf.Type).fields[f.name];
      assert.ok(t, `${name}.${f.name} exists`);
      const shape = (x: protobuf.Field) => ({ id: x.id, type: x.resolvedType?.fullName ?? x.type, repeated: x.repeated, oneof: x.partOf?.name });
      assert.deepEqual(shape(f), shape(t), `${name}.${f.name}`);
      fields++;
    }
  }
  assert.ok(fields > 50, `${fields} fields checked`);
});
