/**
 * Image references as docker spells them (distribution/reference): `busybox` means
 * `docker.io/library/busybox:latest`, a first path component with a `.` or `:` (or
 * `localhost`) is a registry, and `name@sha256:...` pins a manifest. The store keeps
 * full normalized names; the CLI shows the familiar form.
 */
import { StackError } from '../../errors.js';
import { checkDigest } from './digest.js';

export interface Reference {
  /** registry and path: `docker.io/library/busybox` */
  repository: string;
  tag?: string;
  digest?: string;
}

const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DOMAIN = 'index.docker.io';
const OFFICIAL_PREFIX = 'library/';
export const DEFAULT_TAG = 'latest';
const NAME_MAX = 255;

const domainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = new RegExp(`^(?:${domainComponent}(?:\\.${domainComponent})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?$`);
const pathComponent = '[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*';
const PATH = new RegExp(`^${pathComponent}(?:/${pathComponent})*$`);
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;
const IMAGE_ID = /^[a-f0-9]{64}$/;

const PATH_HINT = 'image names use lowercase letters and digits, with ".", "_", "__" or "-" between them and "/" between path components, e.g. docker.io/library/busybox:latest';

export function parseReference(input: string): Reference {
  const invalid = (what: string, hint = PATH_HINT) => new StackError(`invalid image reference ${JSON.stringify(input)}: ${what}`, { hint });
  if (input === '') throw new StackError('image reference is empty', { hint: PATH_HINT });
  if (IMAGE_ID.test(input)) {
    throw invalid('a 64-character hexadecimal string is an image id, not a name', 'to refer to an image by id write sha256:<id>');
  }
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    const d = rest.slice(at + 1);
    if (!DIGEST.test(d)) throw invalid(`invalid digest ${JSON.stringify(d)}`, 'a digest is sha256: followed by 64 hex digits');
    digest = checkDigest(d.toLowerCase(), `image reference ${JSON.stringify(input)}`);
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) {
      throw invalid(`invalid tag ${JSON.stringify(tag)}`, 'a tag is at most 128 letters, digits, "_", "." and "-", and does not start with "." or "-"');
    }
  }
  const [domain, remote] = splitDomain(rest);
  if (remote.toLowerCase() !== remote) throw invalid(`repository name ${JSON.stringify(remote)} must be lowercase`);
  if (!DOMAIN.test(domain)) throw invalid(`invalid registry ${JSON.stringify(domain)}`, 'a registry is a host name or IP address with an optional :port');
  if (!PATH.test(remote)) throw invalid(`invalid repository name ${JSON.stringify(remote)}`);
  const repository = `${domain}/${remote}`;
  if (repository.length > NAME_MAX) throw invalid(`repository name is longer than ${NAME_MAX} characters`);
  return { repository, ...(tag !== undefined && { tag }), ...(digest !== undefined && { digest }) };
}

/** docker's rule: the first component is a registry when it looks like a host (`.`, `:`, `localhost`, uppercase). */
function splitDomain(name: string): [string, string] {
  const slash = name.indexOf('/');
  if (slash < 0) return [DEFAULT_DOMAIN, OFFICIAL_PREFIX + name];
  const first = name.slice(0, slash);
  let domain = DEFAULT_DOMAIN;
  let remote = name;
  if (first === 'localhost' || /[.:]/.test(first) || first.toLowerCase() !== first) {
    domain = first === LEGACY_DOMAIN ? DEFAULT_DOMAIN : first;
    remote = name.slice(slash + 1);
  }
  if (domain === DEFAULT_DOMAIN && !remote.includes('/')) remote = OFFICIAL_PREFIX + remote;
  return [domain, remote];
}

export function formatReference(r: Reference): string {
  return `${r.repository}${r.tag !== undefined ? `:${r.tag}` : ''}${r.digest !== undefined ? `@${r.digest}` : ''}`;
}

/**
 * The full `registry/path:tag` name an image is stored under (`latest` when no tag is
 * given). A digest cannot name an image: it is the content's address, not a label.
 */
export function normalizeName(input: string): string {
  const r = parseReference(input);
  if (r.digest !== undefined) {
    throw new StackError(`cannot use ${JSON.stringify(input)} as an image name: it contains a digest`, { hint: 'image names are name:tag; a digest only selects existing content' });
  }
  return `${r.repository}:${r.tag ?? DEFAULT_TAG}`;
}

/** `docker.io/library/busybox:latest` -> `busybox:latest`, `docker.io/user/app` -> `user/app`. */
export function familiarName(name: string): string {
  const r = parseReference(name);
  let repo = r.repository;
  if (repo.startsWith(`${DEFAULT_DOMAIN}/`)) {
    repo = repo.slice(DEFAULT_DOMAIN.length + 1);
    const short = repo.slice(OFFICIAL_PREFIX.length);
    if (repo.startsWith(OFFICIAL_PREFIX) && !short.includes('/')) repo = short;
  }
  return formatReference({ ...r, repository: repo });
}

/** Whether two references name the same image (`busybox` and `docker.io/library/busybox:latest` do). */
export function sameImage(a: string, b: string): boolean {
  const key = (ref: string) => {
    const r = parseReference(ref);
    return `${r.repository}:${r.tag ?? (r.digest === undefined ? DEFAULT_TAG : '')}@${r.digest ?? ''}`;
  };
  return key(a) === key(b);
}
