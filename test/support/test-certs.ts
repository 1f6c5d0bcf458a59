/**
 * Certificates for test servers, made with openssl: node can sign with a key but cannot write
 * an X.509 certificate. P-256 keys throughout (fast to make, and ES256 is what token servers sign with).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

export interface CertPair {
  cert: string;
  key: string;
}

const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * A self-signed CA. Its certificate is alone in DIR/trust, a dir fit for certs.d-style options
 * (skopeo --cert-dir), which take any *.key there for a client key.
 */
export function makeCa(dir: string, commonName = 'stack test CA'): CertPair {
  mkdirSync(path.join(dir, 'trust'), { recursive: true });
  const pair = { cert: path.join(dir, 'trust', 'ca.crt'), key: path.join(dir, 'ca.key') };
  openssl(['req', '-x509', ...newKey, '-keyout', pair.key, '-out', pair.cert, '-subj', `/CN=${commonName}`, '-days', '2',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  return pair;
}

/** A server certificate signed by `ca`, valid for the given IP addresses and DNS names (clients check the SAN, not the CN). */
export function makeServerCert(dir: string, ca: CertPair, names: { ips: string[]; dns: string[] }): CertPair {
  mkdirSync(dir, { recursive: true });
  const pair = { cert: path.join(dir, 'server.crt'), key: path.join(dir, 'server.key') };
  const san = [...names.ips.map((ip) => `IP:${ip}`), ...names.dns.map((d) => `DNS:${d}`)].join(',');
  openssl(['req', '-x509', ...newKey, '-keyout', pair.key, '-out', pair.cert, '-subj', `/CN=${names.ips[0] ?? names.dns[0]}`,
    '-days', '2', '-CA', ca.cert, '-CAkey', ca.key, '-addext', `subjectAltName=${san}`,
    '-addext', 'basicConstraints=critical,CA:FALSE', '-addext', 'extendedKeyUsage=serverAuth',
    '-addext', 'keyUsage=critical,digitalSignature']);
  return pair;
}

/** A self-signed certificate for a signing key: a verifier that holds the certificate as a root trusts what the key signs. */
export function makeSigningCert(dir: string, commonName: string): CertPair {
  mkdirSync(dir, { recursive: true });
  const pair = { cert: path.join(dir, 'signer.crt'), key: path.join(dir, 'signer.key') };
  openssl(['req', '-x509', ...newKey, '-keyout', pair.key, '-out', pair.cert, '-subj', `/CN=${commonName}`, '-days', '2']);
  return pair;
}
