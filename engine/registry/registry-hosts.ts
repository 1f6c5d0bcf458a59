/**
 * How the engine reaches a registry: where its API lives (docker.io's is registry-1.docker.io),
 * whether plain HTTP may be tried (loopback, or a registry the user lists as insecure, as
 * docker's `insecure-registries`), and which CA and client certificates to use (docker's
 * `certs.d/<host>/` layout: `*.crt` CAs, `*.cert` + `*.key` client pairs).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { StackError } from '../errors.js';

export interface RegistryConfig {
  /** the engine's config dir: `certs.d/` and `registries.json` live there */
  configDir: string;
  /** host[:port] names and CIDRs where plain HTTP (and unverified TLS) is allowed */
  insecure: readonly string[];
  /** extra certs.d roots read after ours (docker's), so certificates set up for docker work too */
  certRoots: readonly string[];
}

export const DOCKER_HUB = 'docker.io';
const DOCKER_HUB_API = 'registry-1.docker.io';

export function registryConfig(env: Readonly<Record<string, string | undefined>> = process.env): RegistryConfig {
  const configDir = env.STACK_CONFIG ?? '/etc/stack';
  const insecure = [...readInsecureList(path.join(configDir, 'registries.json')), ...splitList(env.STACK_INSECURE_REGISTRIES)];
  return { configDir, insecure, certRoots: [path.join(configDir, 'certs.d'), '/etc/docker/certs.d'] };
}

/** The host:port a registry's API is served on. */
export function apiHost(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_API : registry;
}

export function isLoopback(registry: string): boolean {
  const host = hostOf(registry);
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

/** Plain HTTP may be tried: loopback, or listed by name or by a CIDR that holds its IP. */
export function allowsPlainHttp(registry: string, cfg: RegistryConfig): boolean {
  if (isLoopback(registry)) return true;
  const host = hostOf(registry);
  return cfg.insecure.some((entry) => entry === registry || entry === host || inCidr(host, entry));
}

export interface TlsFiles {
  ca: Buffer[];
  cert?: Buffer;
  key?: Buffer;
}

/** docker's certs.d rules for one registry: every `*.crt` is a CA, `x.cert` pairs with `x.key`. */
export function tlsFilesFor(registry: string, cfg: RegistryConfig): TlsFiles {
  const files: TlsFiles = { ca: [] };
  for (const root of cfg.certRoots) {
    const dir = path.join(root, registry);
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir).sort()) {
      const file = path.join(dir, name);
      if (name.endsWith('.crt')) files.ca.push(readFileSync(file));
      else if (name.endsWith('.cert') && files.cert === undefined) {
        const key = path.join(dir, `${name.slice(0, -'.cert'.length)}.key`);
        if (!existsSync(key)) {
          throw new StackError(`${file} has no matching key file ${path.basename(key)}`, {
            hint: 'a client certificate x.cert needs its private key as x.key in the same directory',
          });
        }
        files.cert = readFileSync(file);
        files.key = readFileSync(key);
      }
    }
  }
  return files;
}

function hostOf(registry: string): string {
  if (registry.startsWith('[')) return registry.slice(1, registry.indexOf(']'));
  const colon = registry.lastIndexOf(':');
  return colon >= 0 ? registry.slice(0, colon) : registry;
}

function splitList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function readInsecureList(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new StackError(`${file} is not valid JSON: ${(e as Error).message}`, { cause: e, hint: 'it holds {"insecure-registries": ["host:port", "10.0.0.0/8"]}' });
  }
  const list = (parsed as { 'insecure-registries'?: unknown })['insecure-registries'];
  if (list === undefined) return [];
  if (!Array.isArray(list) || list.some((x) => typeof x !== 'string')) {
    throw new StackError(`${file}: "insecure-registries" must be a list of strings`, { hint: 'e.g. {"insecure-registries": ["registry.lan:5000", "10.0.0.0/8"]}' });
  }
  return list as string[];
}

function inCidr(host: string, cidr: string): boolean {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(cidr);
  if (!m || isIP(host) !== 4) return false;
  const bits = Number(m[2]);
  if (bits > 32) return false;
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return ((ipv4(host) & mask) >>> 0) === ((ipv4(m[1]!) & mask) >>> 0);
}

function ipv4(a: string): number {
  return a.split('.').reduce((n, part) => ((n << 8) | Number(part)) >>> 0, 0);
}
