/**
 * The OCI distribution API of one registry (the `/v2/` endpoints), authorized by scope and
 * with the registry's error bodies turned into messages that say what was missing or refused.
 * Repository arguments are paths within the registry (`library/busybox`).
 */
import type { Readable } from 'node:stream';
import { StackError } from '../errors.js';
import { sha256 } from '../image/store/digest.js';
import { Authorizer, repositoryScope } from './auth.js';
import { CredentialStore } from './credentials.js';
import { registryConfig, type RegistryConfig } from './registry-hosts.js';
import { Transport, type Headers, type Response, type SendOptions } from './transport.js';

/** Manifests larger than this are refused before they are read (containerd's limit). */
const MANIFEST_LIMIT = 4 << 20;

export interface FetchedManifest {
  bytes: Buffer;
  mediaType: string;
  digest: string;
}

export interface BlobResponse {
  body: Readable;
  /** where the body starts: 0, or the offset asked for when the registry honoured the Range */
  offset: number;
}

/** The registry has no bytes from the offset asked for: the blob is shorter than that. */
export class RangeNotSatisfiable extends Error {
  constructor(readonly offset: number) {
    super(`no bytes from offset ${offset}`);
  }
}

export interface ClientOptions {
  config?: RegistryConfig;
  /** where credentials come from: docker's config.json by default, fixed ones for `login` */
  credentials?: Pick<CredentialStore, 'get'>;
}

export class RegistryClient {
  readonly registry: string;
  readonly transport: Transport;
  readonly auth: Authorizer;

  constructor(registry: string, opts: ClientOptions = {}) {
    this.registry = registry;
    this.transport = new Transport(registry, opts.config ?? registryConfig());
    const store = opts.credentials ?? new CredentialStore();
    let creds: ReturnType<CredentialStore['get']> | null = null;
    this.auth = new Authorizer(this.transport, () => (creds === null ? (creds = store.get(registry)) : creds));
  }

  /**
   * Proves the credentials work: `/v2/` with basic auth, or a token fetched with them (no
   * repository scope), as `docker login` checks them.
   */
  async checkLogin(): Promise<void> {
    const res = await this.request([], '/v2/', { retries: 2 });
    await res.body.dump();
    if (res.status !== 200) throw await this.failure(res, 'the login check');
  }

  async getManifest(repo: string, reference: string, accept: readonly string[]): Promise<FetchedManifest> {
    const res = await this.call(repo, ['pull'], `/v2/${repo}/manifests/${reference}`, { headers: { accept: accept.join(', ') }, retries: 2 });
    if (res.status !== 200) throw await this.failure(res, `manifest ${repo}:${reference}`);
    const length = Number(res.headers['content-length'] ?? 0);
    if (length > MANIFEST_LIMIT) {
      await res.body.dump();
      throw new StackError(`the manifest of ${this.registry}/${repo}:${reference} is ${length} bytes, more than the ${MANIFEST_LIMIT} allowed`, { kind: 'invalid' });
    }
    const bytes = Buffer.from(await res.body.arrayBuffer());
    const digest = sha256(bytes);
    if (reference.startsWith('sha256:') && digest !== reference) {
      throw new StackError(`registry ${this.registry} sent a manifest for ${repo}@${reference} whose content hashes to ${digest}`, {
        kind: 'system',
        hint: 'the registry or something between it and this machine changed the content; nothing was stored',
      });
    }
    const mediaType = headerOf(res, 'content-type')?.split(';')[0]?.trim() ?? '';
    return { bytes, mediaType, digest };
  }

  /** The blob's bytes from `offset`; the caller reads the body to its end or destroys it. */
  async getBlob(repo: string, digest: string, offset = 0): Promise<BlobResponse> {
    const headers: Headers = offset > 0 ? { range: `bytes=${offset}-` } : {};
    const res = await this.call(repo, ['pull'], `/v2/${repo}/blobs/${digest}`, { headers, redirects: true, retries: 2 });
    if (res.status === 206 && offset > 0) return { body: res.body, offset };
    if (res.status === 200) return { body: res.body, offset: 0 };
    if (res.status === 416) {
      await res.body.dump();
      throw new RangeNotSatisfiable(offset);
    }
    throw await this.failure(res, `blob ${digest} of ${repo}`);
  }

  /** The blob's size when the repository has it. */
  async headBlob(repo: string, digest: string, actions: readonly string[] = ['pull']): Promise<number | undefined> {
    const res = await this.call(repo, actions, `/v2/${repo}/blobs/${digest}`, { method: 'HEAD', redirects: true, retries: 2 });
    await res.body.dump();
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw await this.failure(res, `blob ${digest} of ${repo}`);
    return Number(res.headers['content-length'] ?? 0);
  }

  /**
   * Asks the registry to link a blob from another repository it holds; true when it did,
   * otherwise the upload location it opened instead (it may not support mounting, or the
   * source may not have it).
   */
  async mountBlob(repo: string, digest: string, from: string): Promise<{ mounted: true } | { mounted: false; location: string }> {
    const query = new URLSearchParams({ mount: digest, from }).toString();
    const res = await this.call(repo, ['pull', 'push'], `/v2/${repo}/blobs/uploads/?${query}`, { method: 'POST', extraScopes: [repositoryScope(from, ['pull'])] });
    await res.body.dump();
    if (res.status === 201) return { mounted: true };
    if (res.status === 202) return { mounted: false, location: this.location(res) };
    throw await this.failure(res, `blob upload to ${repo}`);
  }

  async startUpload(repo: string): Promise<string> {
    const res = await this.call(repo, ['pull', 'push'], `/v2/${repo}/blobs/uploads/`, { method: 'POST', retries: 2 });
    await res.body.dump();
    if (res.status !== 202) throw await this.failure(res, `blob upload to ${repo}`);
    return this.location(res);
  }

  /** Sends one chunk (`start` is where it begins in the blob); returns the next location. */
  async uploadChunk(repo: string, location: string, chunk: Buffer, start: number): Promise<string> {
    const res = await this.call(repo, ['pull', 'push'], location, {
      method: 'PATCH',
      headers: { 'content-type': 'application/octet-stream', 'content-range': `${start}-${start + chunk.length - 1}`, 'content-length': String(chunk.length) },
      body: chunk,
    });
    await res.body.dump();
    if (res.status !== 202) throw await this.failure(res, `blob upload to ${repo}`);
    return this.location(res);
  }

  /** Ends an upload: the rest of the blob in `body` (monolithic), or nothing after chunks. */
  async finishUpload(repo: string, location: string, digest: string, body?: { data: Readable | Buffer; size: number }): Promise<void> {
    const url = new URL(await this.transport.url(location));
    url.searchParams.set('digest', digest);
    const res = await this.call(repo, ['pull', 'push'], url.toString(), {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(body?.size ?? 0) },
      body: body?.data ?? null,
    });
    await res.body.dump();
    if (res.status !== 201) throw await this.failure(res, `blob ${digest} upload to ${repo}`);
  }

  async putManifest(repo: string, reference: string, bytes: Buffer, mediaType: string): Promise<string> {
    const res = await this.call(repo, ['pull', 'push'], `/v2/${repo}/manifests/${reference}`, {
      method: 'PUT',
      headers: { 'content-type': mediaType },
      body: bytes,
      retries: 2,
    });
    await res.body.dump();
    if (res.status !== 201) throw await this.failure(res, `manifest ${repo}:${reference}`);
    return headerOf(res, 'docker-content-digest') ?? sha256(bytes);
  }

  async close(): Promise<void> {
    await this.transport.close();
  }

  private call(repo: string, actions: readonly string[], pathOrUrl: string, opts: SendOptions & { extraScopes?: string[] }): Promise<Response> {
    return this.request([repositoryScope(repo, actions), ...(opts.extraScopes ?? [])], pathOrUrl, opts);
  }

  /** One authorized request; a 401 is answered once with what the new challenge asks. */
  private async request(scopes: readonly string[], pathOrUrl: string, opts: SendOptions): Promise<Response> {
    const send = async (auth: Headers) => this.transport.send(pathOrUrl, { ...opts, headers: { ...opts.headers, ...auth } });
    const res = await send(await this.auth.headers(scopes));
    if (res.status !== 401) return res;
    await res.body.dump();
    if (opts.body !== undefined && opts.body !== null && !Buffer.isBuffer(opts.body)) throw this.auth.denied(res);
    const again = await send(await this.auth.retryHeaders(res, scopes));
    if (again.status === 401) {
      await again.body.dump();
      throw this.auth.denied(again);
    }
    return again;
  }

  private location(res: Response): string {
    const loc = headerOf(res, 'location');
    if (loc === undefined) throw new StackError(`registry ${this.registry} opened an upload without a Location header`, { kind: 'system' });
    return new URL(loc, res.url).toString();
  }

  /** A registry's refusal in words: its error codes mapped to what the user should know. */
  private async failure(res: Response, what: string): Promise<StackError> {
    let text = '';
    try {
      text = await res.body.text();
    } catch {
      // the status says enough
    }
    const errors = parseErrors(text);
    const codes = new Set(errors.map((e) => e.code));
    const detail = errors.map((e) => e.message ?? e.code).filter(Boolean).join('; ') || text.trim().slice(0, 200) || `HTTP ${res.status}`;
    if (res.status === 404 || codes.has('MANIFEST_UNKNOWN') || codes.has('NAME_UNKNOWN') || codes.has('BLOB_UNKNOWN')) {
      return new StackError(`${what} not found in registry ${this.registry}`, { kind: 'not-found', hint: 'check the image name and tag' });
    }
    if (res.status === 403 || codes.has('DENIED')) {
      return new StackError(`registry ${this.registry} denied access to ${what}: ${detail}`, { kind: 'invalid', hint: `check your access to the repository (stack login ${this.registry})` });
    }
    if (codes.has('MANIFEST_INVALID') || codes.has('MANIFEST_BLOB_UNKNOWN') || codes.has('DIGEST_INVALID') || codes.has('SIZE_INVALID')) {
      return new StackError(`registry ${this.registry} refused ${what}: ${detail}`, { kind: 'invalid' });
    }
    return new StackError(`registry ${this.registry} failed on ${what}: HTTP ${res.status}: ${detail}`, { kind: 'system' });
  }
}

function parseErrors(text: string): { code: string; message?: string }[] {
  try {
    const body = JSON.parse(text) as { errors?: { code: string; message?: string }[] };
    return Array.isArray(body.errors) ? body.errors : [];
  } catch {
    return [];
  }
}

function headerOf(res: Response, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
