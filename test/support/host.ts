/**
 * Host preparation for runtime tests, done by the tests and never by the engine: crun 1.8
 * refuses hybrid cgroup hosts whose cgroup2 mount holds a controller (hugetlb here);
 * mounting hugetlb on its own v1 hierarchy moves it there, so both runtimes can be tested.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { detectCgroupLayout } from '../../engine/cgroups/detect.js';
import { crunBlocker } from '../../engine/runtime/oci-runtime.js';

export function prepareHostForCrun(): void {
  const layout = detectCgroupLayout();
  // only hugetlb is known to sit in cgroup2 on our machines; anything else is left to fail loudly
  if (!crunBlocker(layout) || !layout.unifiedControllers.includes('hugetlb') || layout.v1.has('hugetlb')) return;
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
