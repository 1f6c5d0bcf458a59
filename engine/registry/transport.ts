/**
 * HTTP to one registry over undici: a keep-alive connection pool with the registry's TLS
 * settings, the scheme decided once (HTTPS; plain HTTP only where allowed, after HTTPS
 * failed, as docker does for insecure registries), redirects followed by hand so the
 * `Authorization` header never leaves the registry's origin (blob downloads are often
 * redirected to a storage service), and retries of transient failures.
 */
import path from 'node:path';
import { rootCertificates } from 'node:tls';
import { Agent, EnvHttpProxyAgent, type Dispatcher } from 'undici';
import { StackError } from '../errors.js';
import { allowsPlainHttp, apiHost, isLoopback, tlsFilesFor, type RegistryConfig } from './registry-hosts.js';

export type Headers = Record<string, string>;

export interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
  /** the URL that answered, after redirects */
  url: string;
}

export interface SendOptions {
  method?: Dispatcher.HttpMethod;
  headers?: Headers;
  body?: Buffer | string | NodeJS.ReadableStream | null;
  /** follow 3xx (GET/HEAD only) */
  redirects?: boolean;
  /** retry network errors and 5xx/429 (only for requests that can be sent again) */
  retries?: number;
}

const MAX_REDIRECTS = 5;
const BODY_CHUNK = 1 << 20;
const RETRY_BASE_MS = 200;

export class Transport {
  readonly registry: string;
  private readonly dispatcher: Dispatcher;
  private readonly insecureDispatcher: Dispatcher | undefined;
  private readonly plainAllowed: boolean;
  /** the engine's config dir: where the fix for an untrusted certificate goes */
  private readonly configDir: string;
  /** TLS without verification: an insecure registry whose certificate failed verification */
  private unverified = false;
  private base: string | undefined;
  private basePromise: Promise<Response> | undefined;

  constructor(registry: string, cfg: RegistryConfig) {
    this.registry = registry;
    const files = tlsFilesFor(registry, cfg);
    const connect = {
      // our CAs add to the system's, as docker's certs.d does
      ...(files.ca.length > 0 && { ca: [...rootCertificates, ...files.ca.map((b) => b.toString('utf8'))] }),
      ...(files.cert && { cert: files.cert, key: files.key }),
    };
    const proxied = !isLoopback(registry) && ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy'].some((v) => process.env[v]);
    const options = { connect, keepAliveTimeout: 30_000, connectTimeout: 15_000, headersTimeout: 60_000, bodyTimeout: 120_000 };
    this.dispatcher = proxied ? new EnvHttpProxyAgent(options) : new Agent(options);
    // an insecure registry with a certificate we cannot verify is reached as docker does: unverified
    this.insecureDispatcher = allowsPlainHttp(registry, cfg) && !isLoopback(registry) ? new Agent({ ...options, connect: { ...connect, rejectUnauthorized: false } }) : undefined;
    this.plainAllowed = allowsPlainHttp(registry, cfg);
    this.configDir = cfg.configDir;
  }

  /**
   * `GET /v2/`, which also settles the scheme: its answer (200, or 401 with the auth
   * challenge) is returned, the body drained. Done once; later calls share the result.
   */
  ping(): Promise<Response> {
    this.basePromise ??= this.discover();
    return this.basePromise;
  }

  async url(pathOrUrl: string): Promise<string> {
    if (/^https?:\/\//.test(pathOrUrl)) return pathOrUrl;
    if (this.base === undefined) await this.ping();
    return new URL(pathOrUrl, this.base).toString();
  }

  async send(pathOrUrl: string, opts: SendOptions = {}): Promise<Response> {
    let url = await this.url(pathOrUrl);
    const method = opts.method ?? 'GET';
    const origin = new URL(url).origin;
    for (let attempt = 0; ; attempt++) {
      try {
        let headers = { ...opts.headers };
        for (let hop = 0; ; hop++) {
          const res = await this.dispatch(url, method, headers, opts.body ?? null);
          const location = res.headers.location;
          if (opts.redirects && res.status >= 300 && res.status < 400 && typeof location === 'string' && hop < MAX_REDIRECTS) {
            await res.body.dump();
            url = new URL(location, url).toString();
            if (new URL(url).origin !== origin) headers = withoutAuth(headers);
            continue;
          }
          if (attempt < (opts.retries ?? 0) && (res.status >= 500 || res.status === 429)) {
            await res.body.dump();
            throw new Retry();
          }
          return res;
        }
      } catch (e) {
        const retry = e instanceof Retry || isTransient(e);
        if (!retry || attempt >= (opts.retries ?? 0)) throw this.networkError(e);
        await new Promise((r) => setTimeout(r, RETRY_BASE_MS * 2 ** attempt));
      }
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.dispatcher.close(), this.insecureDispatcher?.close()]);
  }

  /** A failure reaching the registry, in words, with what to check. */
  networkError(e: unknown): Error {
    if (e instanceof StackError) return e;
    const code = errorCode(e);
    const msg = (e as Error).message;
    if (code !== undefined && TLS_TRUST_CODES.has(code)) {
      return new StackError(`the TLS certificate of registry ${this.registry} is not trusted: ${msg}`, {
        kind: 'system',
        cause: e,
        hint: `put the CA that signed it at ${path.join(this.configDir, 'certs.d', this.registry, 'ca.crt')}${
          // loopback registries are verified whatever the list says
          isLoopback(this.registry) ? '' : `, or list the registry in ${path.join(this.configDir, 'registries.json')} "insecure-registries"`
        }`,
      });
    }
    const what = code === 'ECONNREFUSED' ? 'connection refused' : code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? 'host not found' : msg;
    return new StackError(`cannot reach registry ${this.registry}: ${what}`, {
      kind: 'system',
      cause: e,
      hint: code === 'ECONNREFUSED' ? 'check that the registry is running and the host and port in the image name are right' : 'check the network and the registry address',
    });
  }

  private dispatch(url: string, method: Dispatcher.HttpMethod, headers: Headers, body: SendOptions['body']): Promise<Response> {
    const dispatcher = this.unverified && this.insecureDispatcher ? this.insecureDispatcher : this.dispatcher;
    return dispatcher
      // 1 MiB body pieces: at undici's default 64 KiB a layer's per-chunk work, not the network, set the pace
      .request({ origin: new URL(url).origin, path: pathOf(url), method, headers, body: body as Dispatcher.DispatchOptions['body'], highWaterMark: BODY_CHUNK })
      .then((r) => ({ status: r.statusCode, headers: r.headers, body: r.body, url }));
  }

  private async discover(): Promise<Response> {
    const host = apiHost(this.registry);
    const attempt = async (base: string): Promise<Response> => {
      const res = await this.dispatch(new URL('/v2/', base).toString(), 'GET', {}, null);
      await res.body.dump();
      this.base = base;
      return res;
    };
    let tlsError: unknown;
    try {
      return await attempt(`https://${host}`);
    } catch (e) {
      tlsError = e;
    }
    if (this.insecureDispatcher && TLS_TRUST_CODES.has(errorCode(tlsError) ?? '')) {
      this.unverified = true;
      try {
        return await attempt(`https://${host}`);
      } catch {
        this.unverified = false;
      }
    }
    if (this.plainAllowed) {
      try {
        const res = await attempt(`http://${host}`);
        // a TLS registry answers plain HTTP with 400: the TLS failure was the real problem
        if (res.status !== 400) return res;
        this.base = undefined;
      } catch {
        // the HTTPS error says more than the HTTP one
      }
    }
    throw this.networkError(tlsError);
  }
}

class Retry extends Error {}

const TLS_TRUST_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_UNTRUSTED',
]);

const TRANSIENT = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED']);

export function isTransient(e: unknown): boolean {
  const code = errorCode(e);
  return code !== undefined && TRANSIENT.has(code);
}

function errorCode(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let depth = 0; cur && depth < 4; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'UND_ERR') return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

function withoutAuth(headers: Headers): Headers {
  return Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'authorization'));
}

function pathOf(url: string): string {
  const u = new URL(url);
  return `${u.pathname}${u.search}`;
}
