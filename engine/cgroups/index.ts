/** The cgroups part of the engine: host detection, resource mapping and the manager. */
export { CGROUP_ROOT, checkContainerId, checkProjectName, containerCgroupPath, projectCgroupPath } from './cgroup-paths.js';
export { createCgroupManager } from './cgroup-manager.js';
export type { CgroupManager, CgroupStats, CpuStats, MemoryStats, PidsStats } from './cgroup-manager.js';
export { detectCgroupLayout, parseCgroupLayout } from './detect.js';
export type { CgroupLayout, CgroupMode } from './detect.js';
export { CPU_PERIOD_US, limitsFromService, toLinuxResources } from './resources.js';
export type { LimitOptions, ResourceLimits } from './resources.js';
export { NoopCgroupManager } from './noop-driver.js';
export { V1CgroupManager } from './v1-driver.js';
export { V2CgroupManager } from './v2-driver.js';
