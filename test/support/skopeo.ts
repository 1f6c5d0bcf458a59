/**
 * skopeo as an independent registry client for tests: it pushes what a test reads back with our
 * client, and reads back what our client pushed. Asynchronous on purpose: a token server runs
 * in the test's own process, and a synchronous skopeo would block the loop that must answer it.
 */
import { execFile } from 'node:child_process';
import type { RegistryCredentials, TestRegistry } from './registry.js';

/** How to reach one registry: TLS verified against certDir's *.crt, or not at all; basic credentials or none. */
export interface SkopeoAccess {
  tlsVerify?: boolean;
  certDir?: string;
  creds?: RegistryCredentials;
}

/** The access a test registry needs: its CA trusted when it has TLS, plain HTTP allowed when not. */
export function skopeoAccess(registry: TestRegistry, creds?: RegistryCredentials): SkopeoAccess {
  return { tlsVerify: registry.certDir !== undefined, ...(registry.certDir && { certDir: registry.certDir }), ...(creds && { creds }) };
}

/** `skopeo copy`; the access options apply to whichever side is a docker:// reference. */
export async function skopeoCopy(src: string, dest: string, opts: { src?: SkopeoAccess; dest?: SkopeoAccess; all?: boolean } = {}): Promise<void> {
  await skopeo([
    'copy', '--quiet',
    ...(opts.all ? ['--all'] : []),
    ...(src.startsWith('docker://') ? accessFlags('src-', opts.src ?? {}) : []),
    ...(dest.startsWith('docker://') ? accessFlags('dest-', opts.dest ?? {}) : []),
    src, dest,
  ]);
}

/** `skopeo inspect`, parsed: the image's summary, or with raw the manifest (or index) as stored. */
export async function skopeoInspect(ref: string, access: SkopeoAccess = {}, raw = false): Promise<unknown> {
  return JSON.parse(await skopeo(['inspect', ...(raw ? ['--raw'] : []), ...(ref.startsWith('docker://') ? accessFlags('', access) : []), ref]));
}

function accessFlags(prefix: 'src-' | 'dest-' | '', a: SkopeoAccess): string[] {
  return [
    `--${prefix}tls-verify=${a.tlsVerify ?? false}`,
    ...(a.certDir ? [`--${prefix}cert-dir`, a.certDir] : []),
    // without creds, anonymous for sure: not whatever an auth file on this host holds
    ...(a.creds ? [`--${prefix}creds`, `${a.creds.user}:${a.creds.password}`] : [`--${prefix}no-creds`]),
  ];
}

function skopeo(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    // the host's policy.json is not what these tests are about
    execFile('skopeo', ['--insecure-policy', ...args], { encoding: 'utf8', timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`skopeo ${args.join(' ')} failed (${err.signal ?? err.code}): ${stderr.trim()}`));
      else resolve(stdout);
    });
  });
}
