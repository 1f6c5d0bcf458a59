/**
 * Host preparation for runtime tests, done by the tests and never by the engine: crun 1.8
 * refuses hybrid cgroup hosts whose cgroup2 mount holds a controller (hugetlb here);
 * mounting hugetlb on its own v1 hierarchy moves it there, so both runtimes can be tested.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { crunBlocker } from '../../engine/runtime/oci-runtime.js';

export function prepareHostForCrun(): void {
  const blocker = crunBlocker();
  if (!blocker || !/hugetlb/.test(blocker)) return;
  if (readFileSync('/proc/self/mountinfo', 'utf8').includes(' /sys/fs/cgroup/hugetlb ')) return;
  if (!existsSync('/sys/fs/cgroup/hugetlb')) mkdirSync('/sys/fs/cgroup/hugetlb');
  execFileSync('mount', ['-t', 'cgroup', '-o', 'hugetlb', 'cgroup', '/sys/fs/cgroup/hugetlb']);
}

/** Both runtimes, with the host prepared so that each can run; the setup installs both. */
export function testRuntimes(): { name: 'crun' | 'runc'; binary: string }[] {
  prepareHostForCrun();
  return [
    { name: 'runc', binary: '/usr/sbin/runc' },
    { name: 'crun', binary: '/usr/bin/crun' },
  ];
}
