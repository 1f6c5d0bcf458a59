/**
 * Real registries for tests: Debian's docker-registry (distribution 2.8) on a free loopback
 * port, plain or TLS, open or behind htpasswd or bearer-token auth. Tests contact loopback
 * only, so everything listens on 127.0.0.1.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import yaml from 'js-yaml';
import { freePort } from './net-probe.js';
import { makeCa, makeServerCert } from './test-certs.js';
import { startTokenServer, type TokenAccess, type TokenServer } from './token-server.js';

export interface RegistryCredentials {
  user: string;
  password: string;
}

export interface TokenAuthOptions {
  /** what the token server demands in basic auth (none: anyone gets a token) */
  credentials?: RegistryCredentials;
  /** the actions granted on a scope (default: all that were asked) */
  authorize?: (asked: TokenAccess, user: string | undefined) => string[];
  /** token lifetime in seconds */
  expiresIn?: number;
}

export interface RegistryOptions {
  tls?: boolean;
  htpasswd?: RegistryCredentials;
  /** bearer-token auth through an in-process token server; `true` is one with no credentials that grants all */
  token?: boolean | TokenAuthOptions;
  /** keep blobs here, and leave them on stop (a second registry can serve the same data) */
  storageDir?: string;
}

export interface TestRegistry {
  /** "127.0.0.1:PORT", as in image references */
  host: string;
  /** http(s)://127.0.0.1:PORT */
  url: string;
  /** with tls: the CA certificate that signed the server's (alone in its dir) */
  caFile?: string;
  /** with tls: the dir holding caFile, for tools that take a certs dir (skopeo --dest-cert-dir) */
  certDir?: string;
  /** the storage root */
  dataDir: string;
  /** the registry's own log */
  logFile: string;
  /** with token auth: the server that issues its tokens */
  tokenServer?: TokenServer;
  /** requests the token server has answered so far (0 without token auth) */
  readonly tokenRequests: number;
  /** kills the registry, waits for it to exit, and removes what start made (never storageDir) */
  stop(): Promise<void>;
}

const SERVICE = 'stack-test-registry';
const START_TIMEOUT_MS = 15_000;

// a test process that ends without running its after() hooks must not leave registries behind
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export async function startRegistry(opts: RegistryOptions = {}): Promise<TestRegistry> {
  if (opts.htpasswd && opts.token) throw new Error('startRegistry: a registry has one auth: htpasswd or token (give the token server credentials instead)');
  const dir = mkdtempSync(path.join(tmpdir(), 'stack-registry-'));
  let tokenServer: TokenServer | undefined;
  try {
    const dataDir = opts.storageDir ?? path.join(dir, 'data');
    mkdirSync(dataDir, { recursive: true });
    const httpConfig: Record<string, unknown> = { secret: randomBytes(16).toString('hex') };
    let caFile: string | undefined;
    if (opts.tls) {
      const ca = makeCa(path.join(dir, 'ca'));
      const server = makeServerCert(path.join(dir, 'tls'), ca, { ips: ['127.0.0.1'], dns: ['localhost'] });
      httpConfig.tls = { certificate: server.cert, key: server.key };
      caFile = ca.cert;
    }
    let auth: Record<string, unknown> | undefined;
    if (opts.htpasswd) {
      const file = path.join(dir, 'htpasswd');
      // bcrypt is the only hash distribution's htpasswd accepts
      writeFileSync(file, execFileSync('htpasswd', ['-Bbn', opts.htpasswd.user, opts.htpasswd.password]));
      auth = { htpasswd: { realm: 'test', path: file } };
    }
    if (opts.token) {
      const t = opts.token === true ? {} : opts.token;
      tokenServer = await startTokenServer({ dir: path.join(dir, 'token'), service: SERVICE, ...t });
      auth = { token: { realm: tokenServer.realm, service: SERVICE, issuer: tokenServer.issuer, rootcertbundle: tokenServer.certFile } };
    }

    const logFile = path.join(dir, 'registry.log');
    const { child, port } = await launch(dir, logFile, caFile, (port) => ({
      version: 0.1,
      log: { level: 'info', formatter: 'text' },
      storage: { filesystem: { rootdirectory: dataDir }, delete: { enabled: true } },
      http: { ...httpConfig, addr: `127.0.0.1:${port}` },
      ...(auth && { auth }),
    }));

    live.add(child);
    const ts = tokenServer;
    let stopped: Promise<void> | undefined;
    return {
      host: `127.0.0.1:${port}`,
      url: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
      ...(caFile && { caFile, certDir: path.dirname(caFile) }),
      dataDir,
      logFile,
      ...(ts && { tokenServer: ts }),
      get tokenRequests() {
        return ts?.tokenRequests ?? 0;
      },
      stop() {
        stopped ??= (async () => {
          try {
            await kill(child);
            live.delete(child);
            await ts?.close();
          } finally {
            rmSync(dir, { recursive: true, force: true });
          }
        })();
        return stopped;
      },
    };
  } catch (e) {
    await tokenServer?.close();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

/**
 * Runs the registry on a free port and waits until /v2/ answers. The port is free when picked
 * but may be taken before the registry binds it: then another is tried.
 */
async function launch(dir: string, logFile: string, caFile: string | undefined, config: (port: number) => object): Promise<{ child: ChildProcess; port: number }> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const configFile = path.join(dir, 'config.yml');
    writeFileSync(configFile, yaml.dump(config(port)));
    const log = openSync(logFile, 'w');
    // REGISTRY_* variables override the config file: none from the caller's environment may leak in
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('REGISTRY_')));
    const child = spawn('docker-registry', ['serve', configFile], { stdio: ['ignore', log, log], env });
    closeSync(log);
    try {
      await waitReady(child, `${caFile ? 'https' : 'http'}://127.0.0.1:${port}/v2/`, caFile);
      return { child, port };
    } catch (e) {
      await kill(child);
      const text = readFileSync(logFile, 'utf8');
      if (attempt < 3 && text.includes('address already in use')) continue;
      throw new Error(`${(e as Error).message}\n--- ${logFile} ---\n${text}`);
    }
  }
}

async function waitReady(child: ChildProcess, url: string, caFile: string | undefined): Promise<void> {
  const ca = caFile ? readFileSync(caFile) : undefined;
  const deadline = Date.now() + START_TIMEOUT_MS;
  let exited: string | undefined;
  child.once('exit', (code, signal) => (exited = `docker-registry exited (${signal ?? code}) before answering ${url}`));
  child.once('error', (e) => (exited = `docker-registry did not start: ${e.message}`));
  for (;;) {
    if (exited) throw new Error(exited);
    const status = await probe(url, ca);
    // an open registry answers 200, one behind auth 401: either way it serves
    if (status === 200 || status === 401) return;
    if (Date.now() > deadline) throw new Error(`docker-registry did not answer ${url} within ${START_TIMEOUT_MS} ms`);
    await sleep(50);
  }
}

function probe(url: string, ca: Buffer | undefined): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = (ca ? https : http).get(url, { timeout: 1000, ...(ca && { ca }) }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}

async function kill(child: ChildProcess): Promise<void> {
  // a child that never spawned (no pid) has nothing to wait for
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}
