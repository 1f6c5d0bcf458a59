/**
 * The user a container's process runs as: the service's `user` (or the image's USER)
 * resolved against the image's own /etc/passwd and /etc/group, never the host's, by the rules
 * of runc's libcontainer/user that docker uses:
 * - `name` and `uid` pick a passwd entry (a uid needs none; it then gets gid 0 and home `/`);
 * - `:group` (a name or a gid, a gid needs no entry) replaces the primary group;
 * - supplementary groups are the groups listing the user, only when no group was given,
 *   because an explicit group means "exactly this group";
 * - no user at all means uid 0, with root's passwd entry when there is one (HOME=/root).
 * `group_add` entries are appended as extra groups (names looked up in /etc/group).
 */

import { StackError } from '../../errors.js';
import { readFileInRoot } from '../../sys/read-in-root.js';

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  home: string;
}

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/** ids are 32-bit, and 2^32-1 is (uid_t)-1, "no id" to the kernel. */
const MAX_ID = 2 ** 31 - 1;

export interface UserLookup {
  /** the service (or image) `user`; undefined or '' = root */
  user?: string | undefined;
  groupAdd?: readonly string[] | undefined;
  /** service name, for errors */
  service: string;
}

/** Resolves against the rootfs's /etc/passwd and /etc/group, read without leaving the rootfs. */
export function resolveUser(rootfs: string, lookup: UserLookup): ResolvedUser {
  // Read even for root: root's passwd entry gives HOME, and its groups the extra gids.
  return resolveUserFrom(lookup, readFileInRoot(rootfs, '/etc/passwd'), readFileInRoot(rootfs, '/etc/group'));
}

/** The pure part of resolveUser: `passwd`/`group` are the files' contents, undefined if absent. */
export function resolveUserFrom(lookup: UserLookup, passwdText: string | undefined, groupText: string | undefined): ResolvedUser {
  const spec = lookup.user ?? '';
  const colon = spec.indexOf(':');
  const userArg = colon < 0 ? spec : spec.slice(0, colon);
  const groupArg = colon < 0 ? '' : spec.slice(colon + 1);
  const passwd = passwdText === undefined ? [] : parsePasswd(passwdText);
  const groups = groupText === undefined ? [] : parseGroup(groupText);
  const fail = (message: string, hint?: string) =>
    new StackError(`service ${lookup.service}: ${message}`, { path: `services.${lookup.service}.user`, hint });

  const uidArg = parseId(userArg);
  let uid = 0;
  let gid = 0;
  let home = '/';
  let matchedName: string | undefined;
  const entry =
    userArg === '' ? passwd.find((p) => p.uid === 0) : uidArg !== undefined ? passwd.find((p) => p.uid === uidArg) : passwd.find((p) => p.name === userArg);
  if (entry) {
    ({ uid, gid, home } = entry);
    matchedName = entry.name;
  } else if (userArg !== '') {
    if (uidArg === undefined) {
      if (isNumeric(userArg)) throw fail(`user id ${userArg} is out of range`, `ids go from 0 to ${MAX_ID}`);
      throw fail(
        `unknown user "${userArg}": the image has ${passwdText === undefined ? 'no /etc/passwd' : 'no such entry in /etc/passwd'}`,
        'use a numeric uid (e.g. `user: "1000:1000"`), or create the user in the image',
      );
    }
    uid = uidArg;
  }

  let additionalGids: number[] = [];
  if (groupArg !== '') {
    const gidArg = parseId(groupArg);
    const g = gidArg !== undefined ? groups.find((x) => x.gid === gidArg) : groups.find((x) => x.name === groupArg);
    if (g) gid = g.gid;
    else if (gidArg !== undefined) gid = gidArg;
    else if (isNumeric(groupArg)) throw fail(`group id ${groupArg} is out of range`, `ids go from 0 to ${MAX_ID}`);
    else {
      throw fail(
        `unknown group "${groupArg}" for user "${spec}": the image has ${groupText === undefined ? 'no /etc/group' : 'no such entry in /etc/group'}`,
        'use a numeric gid, or create the group in the image',
      );
    }
  } else if (matchedName !== undefined) {
    additionalGids = groups.filter((g) => g.members.includes(matchedName!)).map((g) => g.gid);
  }

  for (const extra of lookup.groupAdd ?? []) {
    const n = parseId(extra);
    if (n !== undefined) additionalGids.push(n);
    else {
      const g = groups.find((x) => x.name === extra);
      if (!g) {
        throw new StackError(`service ${lookup.service}: group_add: unknown group "${extra}" (not in the image's /etc/group)`, {
          path: `services.${lookup.service}.group_add`,
          hint: 'use a numeric gid, or create the group in the image',
        });
      }
      additionalGids.push(g.gid);
    }
  }
  return { uid, gid, additionalGids: [...new Set(additionalGids)], home };
}

/** passwd(5) lines `name:password:uid:gid:gecos:home:shell`; malformed lines are skipped, as libc does. */
export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(':');
    if (f.length < 3 || f[0] === '' || f[0]!.startsWith('#')) continue;
    const uid = parseId(f[2]!);
    const gid = parseId(f[3] ?? '0') ?? 0;
    if (uid === undefined) continue;
    out.push({ name: f[0]!, uid, gid, home: f[5] || '/' });
  }
  return out;
}

/** group(5) lines `name:password:gid:member,member`. */
export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(':');
    if (f.length < 3 || f[0] === '' || f[0]!.startsWith('#')) continue;
    const gid = parseId(f[2]!);
    if (gid === undefined) continue;
    out.push({ name: f[0]!, gid, members: (f[3] ?? '').split(',').map((m) => m.trim()).filter(Boolean) });
  }
  return out;
}

function isNumeric(s: string): boolean {
  return /^\d+$/.test(s);
}

function parseId(s: string): number | undefined {
  if (!isNumeric(s)) return undefined;
  const n = Number(s);
  return n <= MAX_ID ? n : undefined;
}
