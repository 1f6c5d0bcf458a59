/**
 * Authorization for one registry, learned from its challenge the way docker's client does:
 * no auth, HTTP basic with the stored credentials, or bearer tokens from the challenge's
 * realm for the scopes a request needs (`repository:name:pull,push`), kept until they
 * expire and reused by any request whose scopes they cover.
 */
import { StackError } from '../errors.js';
import { parseChallenges, type Challenge } from './challenge.js';
import type { Credentials } from './credentials.js';
import type { Headers, Response, Transport } from './transport.js';

interface Token {
  scopes: Set<string>;
  value: string;
  expires: number;
}

/** Tokens without `expires_in` last 60 s (the token spec's default); renew a little early. */
const DEFAULT_TOKEN_SECONDS = 60;
const EARLY_MS = 5_000;

export class Authorizer {
  /** undefined until the ping; null when the registry asks for nothing */
  private challenge: Challenge | null | undefined;
  private readonly tokens: Token[] = [];
  private readonly pending = new Map<string, Promise<Token>>();

  constructor(
    private readonly transport: Transport,
    private readonly credentials: () => Credentials | undefined,
  ) {}

  /** The Authorization header for a request needing `scopes`. */
  async headers(scopes: readonly string[]): Promise<Headers> {
    if (this.challenge === undefined) this.learn(await this.transport.ping());
    return this.headerFor(scopes);
  }

  /**
   * After a 401: takes the (possibly new) challenge, drops tokens that did not do, and gives
   * the header to retry with; throws when a retry cannot help.
   */
  async retryHeaders(res: Response, scopes: readonly string[]): Promise<Headers> {
    const before = this.challenge;
    this.learn(res);
    const challenge = this.challenge;
    if (!challenge) throw this.denied();
    if (challenge.scheme === 'basic') {
      // the same credentials again would be refused again
      if (before?.scheme === 'basic') throw this.denied();
      return this.headerFor(scopes);
    }
    const wanted = new Set([...scopes, ...splitScope(challenge.params.scope)]);
    for (let i = this.tokens.length - 1; i >= 0; i--) if (covers(this.tokens[i]!, wanted)) this.tokens.splice(i, 1);
    return this.headerFor([...wanted]);
  }

  /**
   * The error for a registry that keeps refusing what we send; `res`, its last refusal,
   * may say the credentials were good but the access they give is not enough.
   */
  denied(res?: Response): StackError {
    const creds = this.credentials();
    const registry = this.transport.registry;
    const short = res && parseChallenges(res.headers['www-authenticate']).find((c) => c.params.error === 'insufficient_scope');
    if (short) {
      const access = short.params.scope ?? 'the access this needs';
      return creds
        ? new StackError(`registry ${registry} denied ${creds.username} ${access} (insufficient scope)`, {
            kind: 'invalid',
            hint: `the account lacks those rights on the repository: ask for them, or use a repository it may write to`,
          })
        : new StackError(`registry ${registry} denied anonymous ${access} (insufficient scope)`, { kind: 'invalid', hint: `log in first: stack login ${registry}` });
    }
    return creds
      ? new StackError(`registry ${registry} refused the credentials of ${creds.username}: unauthorized`, {
          kind: 'invalid',
          hint: `check the user's access to the repository, or log in again: stack login ${registry}`,
        })
      : new StackError(`registry ${registry} requires authentication`, { kind: 'invalid', hint: `log in first: stack login ${registry}` });
  }

  private learn(res: Response): void {
    if (res.status !== 401) {
      this.challenge ??= null;
      return;
    }
    const challenges = parseChallenges(res.headers['www-authenticate']);
    this.challenge = challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic') ?? null;
  }

  private async headerFor(scopes: readonly string[]): Promise<Headers> {
    const challenge = this.challenge;
    if (!challenge) return {};
    if (challenge.scheme === 'basic') {
      const creds = this.credentials();
      return creds ? { authorization: basic(creds) } : {};
    }
    const token = await this.token(new Set(scopes));
    return token.value === '' ? {} : { authorization: `Bearer ${token.value}` };
  }

  private async token(scopes: Set<string>): Promise<Token> {
    const now = Date.now();
    const cached = this.tokens.find((t) => t.expires > now && covers(t, scopes));
    if (cached) return cached;
    const key = [...scopes].sort().join(' ');
    let p = this.pending.get(key);
    if (!p) {
      p = this.fetchToken(scopes).finally(() => this.pending.delete(key));
      this.pending.set(key, p);
    }
    return p;
  }

  private async fetchToken(scopes: Set<string>): Promise<Token> {
    const params = this.challenge!.params;
    const realm = params.realm;
    if (realm === undefined || !/^https?:\/\//.test(realm)) {
      throw new StackError(`registry ${this.transport.registry} sent a bearer challenge without a usable realm (${JSON.stringify(realm)})`, { kind: 'system' });
    }
    const url = new URL(realm);
    if (params.service !== undefined) url.searchParams.set('service', params.service);
    for (const s of [...scopes].sort()) url.searchParams.append('scope', s);
    const creds = this.credentials();
    const headers: Headers = creds ? { authorization: basic(creds) } : {};
    const res = await this.transport.send(url.toString(), { headers, redirects: true, retries: 2 });
    const text = await res.body.text();
    if (res.status === 401 || res.status === 403) throw this.denied();
    if (res.status !== 200) {
      throw new StackError(`the token server of registry ${this.transport.registry} (${url.origin}) answered ${res.status}: ${text.slice(0, 200)}`, { kind: 'system' });
    }
    let body: { token?: string; access_token?: string; expires_in?: number };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new StackError(`the token server of registry ${this.transport.registry} sent a reply that is not JSON`, { kind: 'system' });
    }
    const value = body.token ?? body.access_token ?? '';
    const seconds = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : DEFAULT_TOKEN_SECONDS;
    const token = { scopes, value, expires: Date.now() + seconds * 1000 - EARLY_MS };
    this.tokens.push(token);
    return token;
  }
}

/** `repository:a/b:pull,push` -> its actions grouped; a token covers a scope when it names every action. */
function covers(token: Token, wanted: Set<string>): boolean {
  const have = actionsByResource(token.scopes);
  for (const [resource, actions] of actionsByResource(wanted)) {
    const got = have.get(resource);
    if (!got || [...actions].some((a) => !got.has(a))) return false;
  }
  return true;
}

function actionsByResource(scopes: Iterable<string>): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const scope of scopes) {
    const at = scope.lastIndexOf(':');
    const resource = scope.slice(0, at);
    const set = out.get(resource) ?? new Set<string>();
    for (const a of scope.slice(at + 1).split(',')) if (a) set.add(a);
    out.set(resource, set);
  }
  return out;
}

function splitScope(scope: string | undefined): string[] {
  return scope === undefined ? [] : scope.split(' ').filter((s) => s !== '');
}

function basic(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}

export function repositoryScope(path: string, actions: readonly string[]): string {
  return `repository:${path}:${actions.join(',')}`;
}
