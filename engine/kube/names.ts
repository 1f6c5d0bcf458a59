/**
 * Names Kubernetes accepts. A stack file's names allow capitals, underscores and dots and
 * have no length limit; object names must be DNS labels (RFC 1035: lowercase letters,
 * digits and dashes, starting with a letter, at most 63 characters), label values at most
 * 63 characters of a smaller alphabet. Mapping can make two names one, so every name an
 * object takes is claimed in a registry that reports the collision with both origins.
 */
import { createHash } from 'node:crypto';
import { StackError } from '../errors.js';

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const QUALIFIED_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** The first 8 hex digits of the name's SHA-256: what keeps two long names apart once cut. */
function shortHash(raw: string): string {
  return createHash('sha256').update(raw).digest('hex').slice(0, 8);
}

/**
 * `raw` as a DNS label: capitals lowered, every run of other characters a dash, a leading
 * digit prefixed (Service names must start with a letter), longer than `max` cut with a hash.
 */
export function kubeName(raw: string, max = 63): string {
  let name = raw.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  if (name === '') {
    throw new StackError(`"${raw}" has no letters or digits to make a Kubernetes name of`, { hint: 'rename it with at least one letter' });
  }
  if (!/^[a-z]/.test(name)) name = `s-${name}`;
  // cut with a hash of the whole name, so two long names sharing a beginning stay apart
  return name.length <= max ? name : `${name.slice(0, max - 9).replace(/-+$/, '')}-${shortHash(raw)}`;
}

/** `raw` as a label value: itself when valid, else mapped and ended with a hash of `raw`. */
export function labelValue(raw: string): string {
  if (isLabelValue(raw)) return raw;
  const mapped = raw.replace(/[^-A-Za-z0-9_.]+/g, '-').slice(0, 54).replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
  return mapped === '' ? shortHash(raw) : `${mapped}-${shortHash(raw)}`;
}

export function isLabelValue(value: string): boolean {
  return value.length <= 63 && LABEL_VALUE.test(value);
}

/** A label or annotation key: `[prefix/]name`, the prefix a DNS subdomain. */
export function isQualifiedKey(key: string): boolean {
  const slash = key.lastIndexOf('/');
  const name = slash < 0 ? key : key.slice(slash + 1);
  const prefix = slash < 0 ? undefined : key.slice(0, slash);
  if (name.length > 63 || !QUALIFIED_NAME.test(name)) return false;
  return prefix === undefined || (prefix.length <= 253 && DNS_SUBDOMAIN.test(prefix));
}

/** Who wants which name, per kind: two origins wanting one name is a user error naming both. */
export class NameRegistry {
  private readonly taken = new Map<string, string>();

  claim(kind: string, name: string, origin: string): void {
    const key = `${kind}/${name}`;
    const holder = this.taken.get(key);
    if (holder !== undefined && holder !== origin) {
      throw new StackError(`${holder} and ${origin} would both be the ${kind} "${name}" in Kubernetes`, {
        kind: 'conflict',
        hint: 'Kubernetes names are lowercase letters, digits and dashes (capitals, underscores and dots are mapped, long names cut): rename one of them',
      });
    }
    this.taken.set(key, origin);
  }
}
