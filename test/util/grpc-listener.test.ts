import { mock, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import http2 from 'node:http2';
import { once } from 'node:events';
import { parseConfig } from '../../src/config/load.js';
import type { Metrics } from '../../src/telemetry/metrics.js';
import { loadBalancerService } from '../../src/grpclb/server.js';
import { ADMITTED_CONNECTION_OPTIONS, listenAdmitting } from '../../src/util/grpc-listener.js';
import { Logger } from '../../src/util/log.js';
import { readControlConfig } from '../../src/xds/config.js';
import type { DuplexReader } from '../fixtures/grpc/duplex-reader.js';
import { relayFrom, type Relay } from '../fixtures/relay-from.js';
import { eventually } from '../support/eventually.js';
import { lbClient, LbStream, startLb } from '../grpclb/harness.js';
import { adsClient, AdsClient, startControl } from '../xds/harness.js';

/**
 * The grpc-js services (grpclb, xDS) admit connections as the data plane and admin do: at most
 * maxConnections, maxConnectionsPerClient of them from one client address, the rest closed as they
 * arrive and counted. Clients are real grpc-js channels, each on a connection of its own, reaching
 * the service from 127.0.0.x through a relay (grpc-js cannot choose its source address).
 */

/** A client with its stream open. */
interface Served {
  /** Cancel the stream and close the client: its connection ends. */
  close(): void;
}

interface Service {
  readonly port: number;
  readonly metrics: Metrics;
  /** A client on `address` with a stream open and answered; rejects with the stream's status when it is not. */
  served(address: string): Promise<Served>;
}

async function admission(key: string, service: Service): Promise<void> {
  const relays = new Map<string, Relay>();
  const clients: Served[] = [];
  const from = async (ip: string) => {
    let relay = relays.get(ip);
    if (relay === undefined) relays.set(ip, (relay = await relayFrom(ip, service.port)));
    return service.served(relay.address).then((client) => (clients.push(client), client));
  };
  const refused = async (ip: string) => {
    const err = await from(ip).then(
      () => assert.fail(`a client from ${ip} was served past the limit`),
      (e: unknown) => e as grpc.StatusObject,
    );
    assert.equal(grpc.status[err.code], 'UNAVAILABLE', err.details);
  };
  const trips = async (limit: string) => Number(new RegExp(`limit="${limit}"\\} (\\d+)`).exec(await service.metrics.registry.metrics())?.[1] ?? 0);
  try {
    const first = await from('127.0.0.2');
    await from('127.0.0.2');
    await refused('127.0.0.2');
    assert.ok((await trips(`${key}.maxConnectionsPerClient`)) >= 1);
    // Another pod still has its share...
    await from('127.0.0.3');
    // ...until every connection is taken.
    await refused('127.0.0.4');
    assert.ok((await trips(`${key}.maxConnections`)) >= 1);
    // A connection closed is a slot again, for its pod.
    first.close();
    await eventually('a slot freed by a closed connection', () => from('127.0.0.2'));
  } finally {
    for (const c of clients) c.close();
    for (const r of relays.values()) await r.close();
  }
}

/** Each client its own connection (grpc-js shares one per target otherwise). */
const OWN_CONNECTION: grpc.ClientOptions = { 'grpc.use_local_subchannel_pool': 1 };

/** `client` once its stream's first response comes; the stream's status if it ends first. */
async function answered(client: grpc.Client, stream: Pick<DuplexReader<unknown, unknown>, 'ended' | 'cancel'>, first: Promise<unknown>): Promise<Served> {
  const served = { close: () => (stream.cancel(), client.close()) };
  try {
    await first;
    return served;
  } catch (err) {
    served.close();
    throw stream.ended ?? err;
  }
}

test('grpclb.maxConnections and grpclb.maxConnectionsPerClient: connections past them are closed as they arrive and counted', async () => {
  const lb = await startLb({ grpclbExtra: 'maxConnections: 3, maxConnectionsPerClient: 2', endpoints: { a: ['127.0.0.1 9001'] } });
  try {
    await admission('grpclb', {
      port: lb.proc.grpclb!.port!,
      metrics: lb.metrics,
      served: (address) => {
        const client = lbClient(address, OWN_CONNECTION);
        const stream = new LbStream(client);
        stream.send({ initial_request: { name: 'a' } });
        return answered(client, stream, stream.next());
      },
    });
  } finally {
    await lb.close();
  }
});

test('xds.maxConnections and xds.maxConnectionsPerClient: connections past them are closed as they arrive and counted', async () => {
  const c = await startControl({ xdsExtra: 'maxConnections: 3, maxConnectionsPerClient: 2', endpoints: { 'a.A': ['127.0.0.1 9001'] } });
  try {
    await admission('xds', {
      port: c.plane.xds.port!,
      metrics: c.metrics,
      served: (address) => {
        const client = adsClient(address, OWN_CONNECTION);
        const stream = new AdsClient(client);
        stream.request('listener', ['a.A']);
        return answered(client, stream, stream.nextOf('listener'));
      },
    });
  } finally {
    await c.close();
  }
});

test('xds connection limits are read from the xds key, with defaults sized for a cluster of clients', () => {
  const base = 'routers:\n- protocol: h2\n  label: control\n  servers: [{port: 4140}]\n';
  const read = (xds: string) => {
    const text = `${base}${xds}`;
    const c = readControlConfig('control.yaml', text, parseConfig(text, { source: 'control.yaml' }).config);
    return { maxConnections: c.maxConnections, maxConnectionsPerClient: c.maxConnectionsPerClient };
  };
  assert.deepEqual(read(''), { maxConnections: 10_000, maxConnectionsPerClient: 100 });
  assert.deepEqual(read('xds: {maxConnections: 7, maxConnectionsPerClient: 3}\n'), { maxConnections: 7, maxConnectionsPerClient: 3 });
  assert.throws(() => read('xds: {maxConnectionsPerClient: 0}\n'), /xds\.maxConnectionsPerClient: expected an integer 1-1000000/);
});

test('a connection with no stream open for 5 minutes is closed (GOAWAY); one with a stream open is kept', async () => {
  // grpc-js times idleness with the global setTimeout and Date: mocked here, ticked past 5 minutes.
  mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const server = new grpc.Server(ADMITTED_CONNECTION_OPTIONS);
  let streamOpened!: () => void;
  const opened = new Promise<void>((resolve) => (streamOpened = resolve));
  server.addService(loadBalancerService().service, { BalanceLoad: (call: grpc.ServerDuplexStream<unknown, unknown>) => (call.on('error', () => {}), streamOpened()) });
  const listener = await listenAdmitting(server, { ip: '127.0.0.1', port: 0, maxConnections: 10, maxConnectionsPerClient: 10 }, { what: 'test', log: Logger.silent(), onLimit: () => {} });
  const sessions: http2.ClientHttp2Session[] = [];
  const connect = async () => {
    const session = http2.connect(`http://127.0.0.1:${listener.port}`).on('error', () => {});
    sessions.push(session);
    await once(session, 'remoteSettings');
    return session;
  };
  try {
    const idle = await connect();
    const busy = await connect();
    busy.request({ ':method': 'POST', ':path': '/grpc.lb.v1.LoadBalancer/BalanceLoad', 'content-type': 'application/grpc', te: 'trailers' }).on('error', () => {});
    await opened;
    let busyGoaway = false;
    busy.on('goaway', () => (busyGoaway = true));
    const idleGoaway = once(idle, 'goaway');
    mock.timers.tick(5 * 60_000);
    await idleGoaway;
    // A PING answered on the busy connection after the idle one's GOAWAY: a GOAWAY sent with it would have come first.
    await new Promise((resolve, reject) => busy.ping((err) => (err ? reject(err) : resolve(undefined))));
    assert.equal(busyGoaway, false, 'a connection with a stream open is not idle');
  } finally {
    mock.timers.reset();
    for (const s of sessions) s.destroy();
    const closed = listener.close();
    server.forceShutdown();
    await closed;
  }
});
