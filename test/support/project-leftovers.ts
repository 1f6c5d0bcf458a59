/**
 * What a project left on the host after `down`: container state and mounts, sandboxes,
 * its networks' bridges, and processes (conmon, its supervisor). Checked by name, so tests
 * running beside others' objects see only their own.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { bridgeName } from '../../engine/network/link-names.js';
import { isDaemonEntry } from '../../engine/program-files.js';
import type { EnginePaths } from '../../engine/runtime/paths.js';

export function projectLeftovers(paths: EnginePaths, project: string, networks: readonly string[]): string[] {
  const out: string[] = [];
  const mine = (d: string) => d.startsWith(`${project}-`);
  const containers = path.join(paths.stateDir, 'containers');
  if (existsSync(containers)) out.push(...readdirSync(containers).filter(mine).map((d) => `container ${d}`));
  const netns = path.join(paths.runDir, 'netns');
  if (existsSync(netns)) out.push(...readdirSync(netns).filter(mine).map((d) => `netns ${d}`));
  const links = execFileSync('ip', ['-o', 'link', 'show']).toString();
  for (const n of networks) if (links.includes(bridgeName(n))) out.push(`bridge of ${n}`);
  if (readFileSync('/proc/self/mountinfo', 'utf8').includes(path.join(containers, `${project}-`))) out.push('mounts');
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // gone
    }
    const conmon = argv[0]?.endsWith('conmon') && argv.some((a) => mine(a));
    const supervisor = argv.some((a) => isDaemonEntry(a, 'supervisor')) && argv.includes(project) && argv.includes(paths.runDir);
    if (conmon || supervisor) out.push(`process ${pid}: ${argv.slice(0, 3).join(' ')}`);
  }
  return out;
}
