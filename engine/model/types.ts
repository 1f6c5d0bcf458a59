/**
 * The normalized model: one typed shape for a project after loading. Every short syntax is
 * expanded, defaults are filled, paths are absolute, durations are milliseconds and sizes
 * bytes. Property names are compose's own keys, so the model serializes to the same
 * document `docker compose config` prints and needs no second naming scheme.
 */

export type StringMap = Record<string, string>;

export interface Project {
  name: string;
  /** absolute project directory; relative paths in the stack files resolve against it */
  working_dir: string;
  /** absolute paths of the stack files, in merge order */
  config_files: string[];
  services: Record<string, Service>;
  networks: Record<string, Network>;
  volumes: Record<string, Volume>;
  secrets: Record<string, SecretSource>;
  configs: Record<string, SecretSource>;
  /** top-level `x-*` keys, kept as written */
  extensions: Record<string, unknown>;
  /** services filtered out by profiles, for `config --profiles` and dependency errors */
  disabled_services: string[];
  /** the variables used for interpolation (process env over .env) */
  environment: StringMap;
}

export interface Service {
  name: string;
  image?: string;
  build?: Build;
  pull_policy?: string;
  platform?: string;
  profiles: string[];

  command?: string[] | null;
  entrypoint?: string[] | null;
  working_dir?: string;
  user?: string;
  environment: Record<string, string | null>;
  env_file?: EnvFile[];
  labels: StringMap;
  annotations?: StringMap;
  container_name?: string;
  hostname?: string;
  domainname?: string;
  tty?: boolean;
  stdin_open?: boolean;
  init?: boolean;
  read_only?: boolean;
  privileged?: boolean;
  restart?: string;
  stop_signal?: string;
  /** ms */
  stop_grace_period?: number;
  scale?: number;

  depends_on: Record<string, Dependency>;
  links?: string[];
  external_links?: string[];
  network_mode?: string;
  networks?: Record<string, ServiceNetwork | null>;
  ports: Port[];
  expose?: string[];
  dns?: string[];
  dns_search?: string[];
  dns_opt?: string[];
  extra_hosts?: string[];
  mac_address?: string;

  volumes: ServiceVolume[];
  volumes_from?: string[];
  tmpfs?: string[];
  secrets?: ServiceFileRef[];
  configs?: ServiceFileRef[];
  devices?: Device[];

  healthcheck?: Healthcheck;
  logging?: Logging;
  deploy?: Deploy;
  develop?: Develop;

  cap_add?: string[];
  cap_drop?: string[];
  security_opt?: string[];
  sysctls?: StringMap;
  ulimits?: Record<string, Ulimit>;
  /** bytes */
  mem_limit?: number;
  mem_reservation?: number;
  memswap_limit?: number;
  shm_size?: number;
  mem_swappiness?: number;
  cpus?: number;
  cpu_shares?: number;
  cpu_quota?: number;
  cpu_period?: number;
  cpuset?: string;
  pids_limit?: number;
  oom_kill_disable?: boolean;
  oom_score_adj?: number;
  pid?: string;
  ipc?: string;
  uts?: string;
  userns_mode?: string;
  cgroup?: string;
  cgroup_parent?: string;
  group_add?: string[];
  runtime?: string;
  storage_opt?: StringMap;
  stop_timeout?: number;

  /** attributes the engine does not interpret yet, kept verbatim (blkio_config, gpus, ...) */
  extra: Record<string, unknown>;
  /** `x-*` keys of the service */
  extensions: Record<string, unknown>;
}

/** A service with every collection empty: what normalization fills, and what a service made in code (a build step's container) starts from. */
export function emptyService(name: string): Service {
  return { name, profiles: [], environment: {}, labels: {}, depends_on: {}, ports: [], volumes: [], extra: {}, extensions: {} };
}

export interface Build {
  context: string;
  dockerfile?: string;
  dockerfile_inline?: string;
  args: Record<string, string | null>;
  target?: string;
  labels?: StringMap;
  cache_from?: string[];
  cache_to?: string[];
  additional_contexts?: StringMap;
  network?: string;
  shm_size?: number;
  extra_hosts?: string[];
  tags?: string[];
  platforms?: string[];
  no_cache?: boolean;
  pull?: boolean;
  privileged?: boolean;
  secrets?: ServiceFileRef[];
  ssh?: string[];
  ulimits?: Record<string, Ulimit>;
  isolation?: string;
  entitlements?: string[];
}

export interface EnvFile {
  path: string;
  required: boolean;
  format?: string;
}

export type DependencyCondition = 'service_started' | 'service_healthy' | 'service_completed_successfully';

export interface Dependency {
  condition: DependencyCondition;
  required: boolean;
  restart: boolean;
}

export interface ServiceNetwork {
  aliases?: string[];
  ipv4_address?: string;
  ipv6_address?: string;
  link_local_ips?: string[];
  mac_address?: string;
  driver_opts?: StringMap;
  priority?: number;
  gw_priority?: number;
  interface_name?: string;
}

export interface Port {
  name?: string;
  mode: 'ingress' | 'host';
  host_ip?: string;
  target: number;
  /** a port or a range (`8000-8010`); absent when the host port is ephemeral */
  published?: string;
  protocol: 'tcp' | 'udp' | 'sctp';
  app_protocol?: string;
}

export type VolumeType = 'bind' | 'volume' | 'tmpfs' | 'npipe' | 'cluster' | 'image';

export interface ServiceVolume {
  type: VolumeType;
  /** absolute host path (bind), volume key (volume), image reference (image); absent for tmpfs and anonymous volumes */
  source?: string;
  target: string;
  read_only?: boolean;
  consistency?: string;
  bind?: { propagation?: string; create_host_path?: boolean; selinux?: 'z' | 'Z'; recursive?: string };
  volume?: { nocopy?: boolean; subpath?: string; labels?: StringMap };
  tmpfs?: { size?: number; mode?: number };
  image?: { subpath?: string };
}

export interface ServiceFileRef {
  source: string;
  target?: string;
  uid?: string;
  gid?: string;
  mode?: number;
}

export interface Device {
  source: string;
  target: string;
  permissions: string;
}

export interface Healthcheck {
  test?: string[];
  /** ms */
  interval?: number;
  timeout?: number;
  start_period?: number;
  start_interval?: number;
  retries?: number;
  disable?: boolean;
}

export interface Logging {
  driver?: string;
  options?: StringMap;
}

export interface Deploy {
  mode?: string;
  replicas?: number;
  labels?: StringMap;
  resources?: { limits?: Resources; reservations?: Resources };
  restart_policy?: { condition?: string; delay?: number; max_attempts?: number; window?: number };
  placement?: Record<string, unknown>;
  update_config?: Record<string, unknown>;
  rollback_config?: Record<string, unknown>;
  endpoint_mode?: string;
}

export interface Resources {
  cpus?: number;
  /** bytes */
  memory?: number;
  pids?: number;
  devices?: Record<string, unknown>[];
  generic_resources?: unknown[];
}

export interface Develop {
  watch: WatchRule[];
}

export interface WatchRule {
  /** absolute */
  path: string;
  action: 'sync' | 'rebuild' | 'restart' | 'sync+restart' | 'sync+exec';
  target?: string;
  ignore?: string[];
  include?: string[];
  initial_sync?: boolean;
  exec?: Record<string, unknown>;
}

export interface Ulimit {
  soft: number;
  hard: number;
}

export interface Network {
  /** the name on the host: `<project>_<key>` unless set or external */
  name: string;
  driver?: string;
  driver_opts?: StringMap;
  external?: boolean;
  internal?: boolean;
  attachable?: boolean;
  enable_ipv4?: boolean;
  enable_ipv6?: boolean;
  ipam?: { driver?: string; config?: IpamConfig[]; options?: StringMap };
  labels?: StringMap;
  extensions?: Record<string, unknown>;
}

export interface IpamConfig {
  subnet?: string;
  ip_range?: string;
  gateway?: string;
  aux_addresses?: StringMap;
}

export interface Volume {
  name: string;
  driver?: string;
  driver_opts?: StringMap;
  external?: boolean;
  labels?: StringMap;
  extensions?: Record<string, unknown>;
}

export interface SecretSource {
  name: string;
  /** absolute */
  file?: string;
  environment?: string;
  content?: string;
  external?: boolean;
  driver?: string;
  driver_opts?: StringMap;
  template_driver?: string;
  labels?: StringMap;
}
