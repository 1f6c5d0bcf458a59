/**
 * `security_opt` entries, in docker's spelling. docker accepts `key=value` and the older
 * `key:value`; so does this. What the engine can honour is accepted; `label=disable` and
 * `apparmor=unconfined` are accepted because they ask for what already holds (the engine
 * applies no SELinux label and no AppArmor profile); anything else is an error rather than a
 * silent no-op, since a user who writes a security option expects it to take effect.
 */

import { StackError } from '../../errors.js';
import { didYouMean } from '../../validate/suggest.js';

export type SeccompChoice = { kind: 'default' } | { kind: 'unconfined' } | { kind: 'profile'; path: string };

export interface SecurityOptions {
  seccomp: SeccompChoice;
  noNewPrivileges: boolean;
  /** `systempaths=unconfined`: no masked or read-only paths under /proc and /sys */
  unmaskSystemPaths: boolean;
}

const KEYS = ['seccomp', 'no-new-privileges', 'label', 'apparmor', 'systempaths'];

export function parseSecurityOpts(opts: readonly string[] | undefined, service: string): SecurityOptions {
  const out: SecurityOptions = { seccomp: { kind: 'default' }, noNewPrivileges: false, unmaskSystemPaths: false };
  (opts ?? []).forEach((opt, i) => {
    const fail = (message: string, hint?: string) =>
      new StackError(`service ${service}: security_opt: ${message}`, { path: `services.${service}.security_opt.${i}`, hint });
    const sep = /[=:]/.exec(opt);
    const key = sep ? opt.slice(0, sep.index) : opt;
    const value = sep ? opt.slice(sep.index + 1) : undefined;
    switch (key) {
      case 'seccomp':
        if (!value) throw fail(`"${opt}" needs a value`, 'use `seccomp=unconfined` or `seccomp=/path/to/profile.json`');
        if (value !== 'unconfined' && !value.startsWith('/')) {
          throw fail(`seccomp profile "${value}" must be an absolute path`, 'paths in security_opt are not resolved against the project directory');
        }
        out.seccomp = value === 'unconfined' ? { kind: 'unconfined' } : { kind: 'profile', path: value };
        return;
      case 'no-new-privileges':
        if (value === undefined || value === 'true') out.noNewPrivileges = true;
        else if (value === 'false') out.noNewPrivileges = false;
        else throw fail(`"${opt}": expected true or false`);
        return;
      case 'label':
        if (value === 'disable') return;
        throw fail(`"${opt}" is not supported: the engine applies no SELinux labels`, 'remove it, or use `label=disable`');
      case 'apparmor':
        if (value === 'unconfined') return;
        throw fail(`"${opt}" is not supported: the engine applies no AppArmor profiles`, 'remove it, or use `apparmor=unconfined`');
      case 'systempaths':
        if (value === 'unconfined') {
          out.unmaskSystemPaths = true;
          return;
        }
        throw fail(`"${opt}": the only value is unconfined`);
      default:
        throw fail(`unknown option "${opt}"`, didYouMean(key, KEYS) ?? `known: ${KEYS.join(', ')}`);
    }
  });
  return out;
}
