/**
 * A docker token server (docs/spec/auth/token.md of distribution) on loopback, in-process, for
 * registries started with bearer auth. GET <realm>?service=..&scope=type:name:actions answers a
 * JWT signed with ES256 whose certificate rides in the header's `x5c`: distribution 2.8 trusts
 * it because the same certificate is its `rootcertbundle`.
 */
import { createPrivateKey, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { makeSigningCert } from './test-certs.js';

/** One resource and its actions, as in a scope and in the token's `access` claim. */
export interface TokenAccess {
  type: string;
  name: string;
  actions: string[];
}

/** What one token request asked for and got (a request refused before a token has granted: null). */
export interface TokenRequest {
  user: string | undefined;
  service: string | null;
  scopes: TokenAccess[];
  granted: TokenAccess[] | null;
}

export interface TokenServerOptions {
  /** where the signing key and its certificate are written */
  dir: string;
  /** the registry's name: requests must ask for it, tokens are issued to it (`aud`) */
  service: string;
  issuer?: string;
  /** when given, a request must carry exactly these in basic auth, or gets 401 */
  credentials?: { user: string; password: string };
  /** the actions granted on a scope (default: all that were asked); user is undefined for an anonymous request */
  authorize?: (asked: TokenAccess, user: string | undefined) => string[];
  /** token lifetime in seconds, 300 unless told */
  expiresIn?: number;
}

export interface TokenServer {
  /** the URL registries name in their challenge */
  realm: string;
  service: string;
  issuer: string;
  /** the signing certificate (PEM): the registry's rootcertbundle */
  certFile: string;
  /** every request to the realm, in order: a client test proves token reuse by counting them */
  readonly requests: readonly TokenRequest[];
  readonly tokenRequests: number;
  close(): Promise<void>;
}

export async function startTokenServer(opts: TokenServerOptions): Promise<TokenServer> {
  const signer = makeSigningCert(opts.dir, 'stack test token signer');
  const key = createPrivateKey(readFileSync(signer.key));
  const x5c = new X509Certificate(readFileSync(signer.cert)).raw.toString('base64');
  const issuer = opts.issuer ?? 'stack-test-token-server';
  const requests: TokenRequest[] = [];

  const server = http.createServer((req, res) => {
    const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    const url = new URL(req.url ?? '/', 'http://token');
    if (url.pathname !== '/token') return answer(404, { errors: [{ code: 'NOT_FOUND', message: url.pathname }] });
    if (req.method !== 'GET') return answer(405, { errors: [{ code: 'UNSUPPORTED', message: `${req.method} is not served` }] }, { allow: 'GET' });

    const basic = parseBasic(req.headers.authorization);
    const service = url.searchParams.get('service');
    let scopes: TokenAccess[];
    try {
      scopes = url.searchParams.getAll('scope').flatMap((s) => s.split(' ').filter(Boolean)).map(parseScope);
    } catch (e) {
      requests.push({ user: basic?.user, service, scopes: [], granted: null });
      return answer(400, { errors: [{ code: 'INVALID_SCOPE', message: (e as Error).message }] });
    }
    const entry: TokenRequest = { user: basic?.user, service, scopes, granted: null };
    requests.push(entry);

    if (opts.credentials && (basic?.user !== opts.credentials.user || basic.password !== opts.credentials.password)) {
      return answer(401, { errors: [{ code: 'UNAUTHORIZED', message: 'wrong or missing credentials' }] }, { 'www-authenticate': 'Basic realm="token"' });
    }
    // a client must echo the challenge's service: a token for another audience would be refused by the registry later, and less clearly
    if (service !== opts.service) {
      return answer(400, { errors: [{ code: 'INVALID_SERVICE', message: `service ${JSON.stringify(service)} is not ${JSON.stringify(opts.service)}` }] });
    }

    const granted = scopes.map((s) => ({ ...s, actions: opts.authorize ? opts.authorize(s, basic?.user).filter((a) => s.actions.includes(a)) : s.actions }));
    entry.granted = granted;
    const now = Math.floor(Date.now() / 1000);
    const expiresIn = opts.expiresIn ?? 300;
    const claims = {
      iss: issuer,
      sub: basic?.user ?? '',
      aud: opts.service,
      exp: now + expiresIn,
      nbf: now,
      iat: now,
      jti: randomBytes(16).toString('hex'),
      access: granted,
    };
    const token = signJwt({ typ: 'JWT', alg: 'ES256', x5c: [x5c] }, claims, key);
    answer(200, { token, access_token: token, expires_in: expiresIn, issued_at: new Date(now * 1000).toISOString() });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    realm: `http://127.0.0.1:${port}/token`,
    service: opts.service,
    issuer,
    certFile: signer.cert,
    requests,
    get tokenRequests() {
      return requests.length;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** `repository:library/alpine:pull,push`; names may hold ':' only in their middle part, so type and actions split at the ends. */
function parseScope(scope: string): TokenAccess {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first <= 0 || last <= first + 1 || last === scope.length - 1) throw new Error(`scope ${JSON.stringify(scope)} is not type:name:actions`);
  return { type: scope.slice(0, first), name: scope.slice(first + 1, last), actions: scope.slice(last + 1).split(',') };
}

function parseBasic(header: string | undefined): { user: string; password: string } | undefined {
  const m = /^Basic\s+(\S+)$/i.exec(header ?? '');
  if (!m) return undefined;
  const text = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  return colon < 0 ? { user: text, password: '' } : { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** JWS compact form; ES256 signatures are r||s (IEEE P1363), not the DER that node signs by default. */
function signJwt(header: object, claims: object, key: KeyObject): string {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const input = `${b64(header)}.${b64(claims)}`;
  const signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}
