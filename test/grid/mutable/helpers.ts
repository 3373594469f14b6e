/**
 * Mutable-file clients on the grid fixture: each client has its own storage broker (as
 * a separate tahoe-ts node would) over the real TCP transport to the fixture's real
 * storage servers, and may observe or delay every storage call it makes.
 */
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import { StorageBroker } from '../../../src/grid/broker.js';
import { defaultStorageApiFactory, type GridTiming } from '../../../src/grid/client.js';
import type { StorageApi, StorageApiFactory } from '../../../src/grid/storage-api.js';
import { createMutableServices, immutableStoreOf, type DirectoryGridClient, type MutableGridClient, type MutableServicesOptions } from '../../../src/grid/mutable/index.js';
import { TEST_TIMING, testRouter, type TestGrid } from '../fixture.js';

export interface StorageCall {
  /** Method name of the storage client (readMutable, readTestWrite, …). */
  readonly method: string;
  /** `server-<index>` */
  readonly peer: string;
  readonly args: readonly unknown[];
}

export type CallHook = (call: StorageCall) => Promise<void> | void;

/** The real storage client with `hook` awaited before every call (all verbs, mutable ones too). */
export function hookedMutableFactory(hook: CallHook, timing: Partial<GridTiming> = TEST_TIMING): StorageApiFactory {
  const real = defaultStorageApiFactory(timing);
  return (params) => {
    const api = real(params);
    const peer = params.peer.split(' ')[0];
    return new Proxy(api, {
      get(target, property, receiver) {
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof value !== 'function' || property === 'close' || typeof property !== 'string') return value;
        return async (...args: unknown[]): Promise<unknown> => {
          await hook({ method: property, peer, args });
          return (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        };
      },
    }) satisfies StorageApi;
  };
}

export interface TestMutableClient {
  readonly files: MutableGridClient;
  readonly dirs: DirectoryGridClient;
  readonly broker: StorageBroker;
  readonly leaseSecret: Buffer;
}

export interface MutableClientOptions {
  hook?: CallHook;
  /** Servers to wait for (default: every running one). */
  waitFor?: number;
  files?: Partial<Omit<MutableServicesOptions, 'broker' | 'leaseSecret' | 'immutable' | 'now'>>;
  dirs?: Partial<Pick<MutableServicesOptions, 'now'>>;
  /** Give the directory client an immutable store (a grid client of the fixture) for DIR2-CHK. */
  immutable?: boolean;
}

/** A mutable-file and directory client connected to every running server of `grid`. */
export async function mutableClient(t: Pick<TestContext, 'after'>, grid: TestGrid, options: MutableClientOptions = {}): Promise<TestMutableClient> {
  const broker = new StorageBroker({
    router: testRouter(),
    clientFactory: options.hook === undefined ? defaultStorageApiFactory(TEST_TIMING) : hookedMutableFactory(options.hook),
    timing: TEST_TIMING,
  });
  t.after(() => broker.close());
  for (const s of grid.staticServers()) broker.addStatic(s);
  await broker.waitForServers(options.waitFor ?? grid.nodes.filter((n) => n.running).length, { timeoutMs: 20_000 });
  const leaseSecret = randomBytes(32);
  const immutable = options.immutable === true ? immutableStoreOf(await grid.client()) : undefined;
  const { files, directories: dirs } = createMutableServices({
    broker, leaseSecret, encoding: { k: 3, n: 10 }, graceMs: 200, retryDelayMs: 20, unfinishedPatienceMs: 2_000, ...options.files,
    ...(immutable === undefined ? {} : { immutable }), ...options.dirs,
  });
  return { files, dirs, broker, leaseSecret };
}

/** A race's starting line: `opened` resolves once `count` runners have `arrive()`d. */
export function barrier(count: number): { arrive: () => void; opened: Promise<void> } {
  let arrived = 0;
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return {
    arrive: () => {
      arrived++;
      if (arrived === count) open();
    },
    opened,
  };
}
