/**
 * The validated data tree -> the typed model: short syntax expanded, defaults filled,
 * `env_file`s read, units parsed. Runs after validation, so shapes are known to be right;
 * what the schema cannot check (a port range that does not parse, an env file that does
 * not exist) is reported here with the node's position.
 */
import { existsSync, readFileSync } from 'node:fs';
import { split as shellSplit } from 'shlex';
import { ErrorList, StackError } from '../errors.js';
import { parseDotenv } from '../load/dotenv.js';
import { isMap, splitKeyValue, type PlainMap } from '../load/plain.js';
import { locate, type PathSegment } from '../load/source-map.js';
import type { Lookup } from '../load/template.js';
import type {
  Build,
  Dependency,
  Deploy,
  Device,
  EnvFile,
  Healthcheck,
  IpamConfig,
  Network,
  Port,
  Project,
  SecretSource,
  Service,
  ServiceFileRef,
  ServiceNetwork,
  ServiceVolume,
  StringMap,
  Ulimit,
  Volume,
  WatchRule,
} from './types.js';
import { emptyService } from './types.js';
import { parsePortSpec, parseVolumeSpec } from './short-syntax.js';
import { parseBytes, parseDuration } from './units.js';

export interface NormalizeInput {
  name: string;
  workingDir: string;
  configFiles: string[];
  data: PlainMap;
  environment: StringMap;
  lookup: Lookup;
  disabled: string[];
}

/** Keys of a service with a typed home in the model; everything else goes to `extra`. */
const SERVICE_KEYS = new Set([
  'image', 'build', 'pull_policy', 'platform', 'profiles', 'command', 'entrypoint', 'working_dir', 'user',
  'environment', 'env_file', 'labels', 'label_file', 'annotations', 'container_name', 'hostname', 'domainname',
  'tty', 'stdin_open', 'init', 'read_only', 'privileged', 'restart', 'stop_signal', 'stop_grace_period', 'scale',
  'depends_on', 'links', 'external_links', 'network_mode', 'networks', 'ports', 'expose', 'dns', 'dns_search',
  'dns_opt', 'extra_hosts', 'mac_address', 'volumes', 'volumes_from', 'tmpfs', 'secrets', 'configs', 'devices',
  'healthcheck', 'logging', 'deploy', 'develop', 'cap_add', 'cap_drop', 'security_opt', 'sysctls', 'ulimits',
  'mem_limit', 'mem_reservation', 'memswap_limit', 'shm_size', 'mem_swappiness', 'cpus', 'cpu_shares', 'cpu_quota',
  'cpu_period', 'cpuset', 'pids_limit', 'oom_kill_disable', 'oom_score_adj', 'pid', 'ipc', 'uts', 'userns_mode',
  'cgroup', 'cgroup_parent', 'group_add', 'runtime', 'storage_opt', 'extends',
]);

export function normalizeProject(input: NormalizeInput, errors: ErrorList): Project {
  const { data } = input;
  const n = new Normalizer(data, input.lookup, errors);
  const services: Record<string, Service> = {};
  for (const [name, raw] of Object.entries(asMap(data.services))) {
    services[name] = n.service(name, asMap(raw));
  }
  const networks: Record<string, Network> = {};
  for (const [key, raw] of Object.entries(asMap(data.networks))) networks[key] = n.network(input.name, key, asMap(raw));
  const usesDefault = Object.values(services).some((s) => s.networks && 'default' in s.networks);
  if (usesDefault && !networks.default) networks.default = { name: `${input.name}_default` };
  const volumes: Record<string, Volume> = {};
  for (const [key, raw] of Object.entries(asMap(data.volumes))) volumes[key] = n.volume(input.name, key, asMap(raw));
  const secrets: Record<string, SecretSource> = {};
  for (const [key, raw] of Object.entries(asMap(data.secrets))) secrets[key] = n.secretSource(input.name, key, asMap(raw));
  const configs: Record<string, SecretSource> = {};
  for (const [key, raw] of Object.entries(asMap(data.configs))) configs[key] = n.secretSource(input.name, key, asMap(raw));
  return {
    name: input.name,
    working_dir: input.workingDir,
    config_files: input.configFiles,
    services,
    networks,
    volumes,
    secrets,
    configs,
    extensions: extensionsOf(data),
    disabled_services: input.disabled,
    environment: input.environment,
  };
}

class Normalizer {
  constructor(
    private readonly root: PlainMap,
    private readonly lookup: Lookup,
    private readonly errors: ErrorList,
  ) {}

  private fail(path: PathSegment[], message: string, hint?: string): void {
    this.errors.add(new StackError(`${path.join('.')}: ${message}`, { location: locate(this.root, path), path: path.join('.'), hint }));
  }

  service(name: string, raw: PlainMap): Service {
    const at = (...p: PathSegment[]) => ['services', name, ...p];
    const s: Service = { ...emptyService(name), profiles: strings(raw.profiles), extensions: extensionsOf(raw) };
    for (const [k, v] of Object.entries(raw)) {
      if (!SERVICE_KEYS.has(k) && !k.startsWith('x-')) s.extra[k] = v;
    }
    copyScalars(raw, s, [
      'image', 'pull_policy', 'platform', 'working_dir', 'container_name', 'hostname', 'domainname', 'tty',
      'stdin_open', 'init', 'read_only', 'privileged', 'restart', 'stop_signal', 'scale', 'network_mode',
      'mac_address', 'mem_swappiness', 'cpu_shares', 'cpu_quota', 'cpu_period', 'cpuset', 'pids_limit',
      'oom_kill_disable', 'oom_score_adj', 'pid', 'ipc', 'uts', 'userns_mode', 'cgroup', 'cgroup_parent', 'runtime',
    ]);
    if (raw.user !== undefined) s.user = String(raw.user);
    if (raw.build !== undefined) s.build = this.build(raw.build, at('build'));
    if (raw.command !== undefined) s.command = this.command(raw.command, at('command'));
    if (raw.entrypoint !== undefined) s.entrypoint = this.command(raw.entrypoint, at('entrypoint'));
    if (raw.stop_grace_period !== undefined) s.stop_grace_period = this.duration(raw.stop_grace_period, at('stop_grace_period'));

    if (raw.env_file !== undefined) s.env_file = envFiles(raw.env_file);
    s.environment = this.environment(raw, s.env_file ?? [], at);
    s.labels = this.labels(raw, at);
    if (raw.annotations !== undefined) s.annotations = stringMap(raw.annotations);

    s.depends_on = dependsOn(raw.depends_on);
    if (raw.links !== undefined) s.links = strings(raw.links);
    if (raw.external_links !== undefined) s.external_links = strings(raw.external_links);
    if (raw.network_mode === undefined) s.networks = serviceNetworks(raw.networks);
    asList(raw.ports).forEach((p, i) => s.ports.push(...this.ports(p, at('ports', i))));
    if (raw.expose !== undefined) s.expose = asList(raw.expose).map(String);
    for (const k of ['dns', 'dns_search', 'dns_opt', 'cap_add', 'cap_drop', 'security_opt', 'group_add', 'volumes_from'] as const) {
      if (raw[k] !== undefined) s[k] = strings(raw[k]);
    }
    if (raw.extra_hosts !== undefined) s.extra_hosts = extraHosts(raw.extra_hosts);
    asList(raw.volumes).forEach((v, i) => {
      const vol = this.volumeMount(v, at('volumes', i));
      if (vol) s.volumes.push(vol);
    });
    if (raw.tmpfs !== undefined) s.tmpfs = strings(raw.tmpfs);
    if (raw.secrets !== undefined) s.secrets = fileRefs(raw.secrets);
    if (raw.configs !== undefined) s.configs = fileRefs(raw.configs);
    if (raw.devices !== undefined) s.devices = asList(raw.devices).map(device);
    if (raw.healthcheck !== undefined) s.healthcheck = this.healthcheck(asMap(raw.healthcheck), at('healthcheck'));
    if (raw.logging !== undefined) {
      const l = asMap(raw.logging);
      s.logging = { ...(l.driver !== undefined && { driver: String(l.driver) }), ...(l.options !== undefined && { options: stringMap(l.options) }) };
    }
    if (raw.deploy !== undefined) s.deploy = this.deploy(asMap(raw.deploy), at('deploy'));
    if (raw.develop !== undefined) s.develop = { watch: asList(asMap(raw.develop).watch).map((r) => watchRule(asMap(r))) };
    if (raw.sysctls !== undefined) s.sysctls = stringMap(raw.sysctls);
    if (raw.storage_opt !== undefined) s.storage_opt = stringMap(raw.storage_opt);
    if (raw.ulimits !== undefined) s.ulimits = ulimits(raw.ulimits);
    for (const k of ['mem_limit', 'mem_reservation', 'memswap_limit', 'shm_size'] as const) {
      if (raw[k] !== undefined) {
        const b = this.bytes(raw[k], at(k), k === 'memswap_limit');
        if (b !== undefined) s[k] = b;
      }
    }
    if (raw.cpus !== undefined) s.cpus = this.number(raw.cpus, at('cpus'));
    return s;
  }

  private build(raw: unknown, path: PathSegment[]): Build {
    if (typeof raw === 'string') return { context: raw, dockerfile: 'Dockerfile', args: {} };
    const b = asMap(raw);
    const out: Build = { context: typeof b.context === 'string' ? b.context : '.', args: {} };
    if (b.dockerfile_inline === undefined) out.dockerfile = b.dockerfile === undefined ? 'Dockerfile' : String(b.dockerfile);
    copyScalars(b, out, ['dockerfile_inline', 'target', 'network', 'no_cache', 'pull', 'privileged', 'isolation']);
    if (b.args !== undefined) out.args = this.dictWithEnv(b.args, false);
    if (b.labels !== undefined) out.labels = stringMap(b.labels);
    for (const k of ['cache_from', 'cache_to', 'tags', 'platforms', 'entitlements'] as const) {
      if (b[k] !== undefined) out[k] = strings(b[k]);
    }
    if (b.ssh !== undefined) out.ssh = isMap(b.ssh) ? Object.entries(b.ssh).map(([k, v]) => `${k}=${v}`) : strings(b.ssh);
    if (b.additional_contexts !== undefined) out.additional_contexts = stringMap(b.additional_contexts);
    if (b.extra_hosts !== undefined) out.extra_hosts = extraHosts(b.extra_hosts);
    if (b.secrets !== undefined) out.secrets = fileRefs(b.secrets);
    if (b.ulimits !== undefined) out.ulimits = ulimits(b.ulimits);
    if (b.shm_size !== undefined) {
      const v = this.bytes(b.shm_size, [...path, 'shm_size']);
      if (v !== undefined) out.shm_size = v;
    }
    return out;
  }

  private command(raw: unknown, path: PathSegment[]): string[] | null {
    if (raw === null) return null;
    if (Array.isArray(raw)) return raw.map(String);
    try {
      return shellSplit(String(raw));
    } catch (e) {
      this.fail(path, `cannot split ${JSON.stringify(raw)} into arguments: ${(e as Error).message}`, 'check the quotes, or write the command as a list');
      return [];
    }
  }

  private environment(raw: PlainMap, files: EnvFile[], at: (...p: PathSegment[]) => PathSegment[]): Record<string, string | null> {
    const env: Record<string, string | null> = {};
    files.forEach((f, i) => {
      if (!existsSync(f.path)) {
        if (f.required) this.fail(at('env_file', i), `env file ${f.path} not found`, 'create the file, or mark it `required: false`');
        return;
      }
      try {
        for (const [k, v] of parseDotenv(readFileSync(f.path, 'utf8'), f.path, this.lookup)) env[k] = v ?? null;
      } catch (e) {
        if (e instanceof StackError) this.errors.add(e);
        else throw e;
      }
    });
    if (raw.environment !== undefined) Object.assign(env, this.dictWithEnv(raw.environment, true));
    return env;
  }

  /**
   * `environment` and build `args`: a key without a value takes the variable of that name
   * from the environment, or stays unset (null).
   */
  private dictWithEnv(raw: unknown, resolve: boolean): Record<string, string | null> {
    const out: Record<string, string | null> = {};
    for (const [k, v] of Object.entries(dictEntries(raw))) {
      out[k] = v === null ? (resolve ? this.lookup(k) ?? null : null) : v;
    }
    return out;
  }

  /** `label_file`s first, then `labels` on top, as compose does. */
  private labels(raw: PlainMap, at: (...p: PathSegment[]) => PathSegment[]): StringMap {
    const out: StringMap = {};
    strings(raw.label_file).forEach((file, i) => {
      if (!existsSync(file)) {
        this.fail(at('label_file', i), `label file ${file} not found`, 'create the file or remove it from label_file');
        return;
      }
      try {
        for (const [k, v] of parseDotenv(readFileSync(file, 'utf8'), file, () => undefined)) out[k] = v ?? '';
      } catch (e) {
        if (e instanceof StackError) this.errors.add(e);
        else throw e;
      }
    });
    for (const [k, v] of Object.entries(dictEntries(raw.labels ?? {}))) out[k] = v ?? '';
    return out;
  }

  private ports(raw: unknown, path: PathSegment[]): Port[] {
    if (isMap(raw)) {
      const p: Port = {
        mode: raw.mode === 'host' ? 'host' : 'ingress',
        target: Number(raw.target),
        protocol: (raw.protocol as Port['protocol'] | undefined) ?? 'tcp',
      };
      if (raw.name !== undefined) p.name = String(raw.name);
      if (raw.host_ip !== undefined) p.host_ip = String(raw.host_ip);
      if (raw.published !== undefined && raw.published !== '') p.published = String(raw.published);
      if (raw.app_protocol !== undefined) p.app_protocol = String(raw.app_protocol);
      return [p];
    }
    const parsed = parsePortSpec(String(raw));
    if (typeof parsed === 'string') {
      this.fail(path, parsed, 'write a port as "8080:80", "127.0.0.1:8080:80", "8000-8001:80-81" or "53:53/udp"');
      return [];
    }
    return parsed;
  }

  private volumeMount(raw: unknown, path: PathSegment[]): ServiceVolume | undefined {
    if (isMap(raw)) {
      const v: ServiceVolume = { type: raw.type as ServiceVolume['type'], target: String(raw.target ?? '') };
      if (raw.source !== undefined && raw.source !== '') v.source = String(raw.source);
      copyScalars(raw, v, ['read_only', 'consistency']);
      if (isMap(raw.bind)) v.bind = { ...raw.bind } as ServiceVolume['bind'];
      if (isMap(raw.volume)) v.volume = { ...raw.volume } as ServiceVolume['volume'];
      if (isMap(raw.image)) v.image = { ...raw.image } as ServiceVolume['image'];
      if (isMap(raw.tmpfs)) {
        const t = raw.tmpfs;
        v.tmpfs = {};
        if (t.size !== undefined) {
          const size = this.bytes(t.size, [...path, 'tmpfs', 'size']);
          if (size !== undefined) v.tmpfs.size = size;
        }
        if (t.mode !== undefined) v.tmpfs.mode = typeof t.mode === 'number' ? t.mode : Number.parseInt(String(t.mode), 8);
      }
      if (v.type === 'bind' && v.bind?.create_host_path === undefined) v.bind = { ...v.bind, create_host_path: true };
      return v;
    }
    const parsed = parseVolumeSpec(String(raw));
    if (typeof parsed === 'string') {
      this.fail(path, parsed, 'write a volume as "./host/path:/container/path[:ro]" or "name:/container/path"');
      return undefined;
    }
    return parsed;
  }

  private healthcheck(raw: PlainMap, path: PathSegment[]): Healthcheck {
    const h: Healthcheck = {};
    if (raw.test !== undefined) h.test = typeof raw.test === 'string' ? ['CMD-SHELL', raw.test] : strings(raw.test);
    for (const k of ['interval', 'timeout', 'start_period', 'start_interval'] as const) {
      if (raw[k] !== undefined) h[k] = this.duration(raw[k], [...path, k]);
    }
    if (raw.retries !== undefined) h.retries = Number(raw.retries);
    if (raw.disable !== undefined) h.disable = Boolean(raw.disable);
    if (h.test?.[0] === 'NONE') h.disable = true;
    return h;
  }

  private deploy(raw: PlainMap, path: PathSegment[]): Deploy {
    const d: Deploy = {};
    copyScalars(raw, d, ['mode', 'replicas', 'endpoint_mode']);
    if (raw.labels !== undefined) d.labels = stringMap(raw.labels);
    for (const k of ['placement', 'update_config', 'rollback_config'] as const) if (isMap(raw[k])) d[k] = raw[k] as PlainMap;
    if (isMap(raw.restart_policy)) {
      const r = raw.restart_policy;
      d.restart_policy = {};
      if (r.condition !== undefined) d.restart_policy.condition = String(r.condition);
      if (r.max_attempts !== undefined) d.restart_policy.max_attempts = Number(r.max_attempts);
      if (r.delay !== undefined) d.restart_policy.delay = this.duration(r.delay, [...path, 'restart_policy', 'delay']);
      if (r.window !== undefined) d.restart_policy.window = this.duration(r.window, [...path, 'restart_policy', 'window']);
    }
    if (isMap(raw.resources)) {
      d.resources = {};
      for (const k of ['limits', 'reservations'] as const) {
        const r = raw.resources[k];
        if (!isMap(r)) continue;
        const res: NonNullable<typeof d.resources.limits> = {};
        if (r.cpus !== undefined) res.cpus = this.number(r.cpus, [...path, 'resources', k, 'cpus']);
        if (r.memory !== undefined) {
          const m = this.bytes(r.memory, [...path, 'resources', k, 'memory']);
          if (m !== undefined) res.memory = m;
        }
        if (r.pids !== undefined) res.pids = Number(r.pids);
        if (Array.isArray(r.devices)) res.devices = r.devices as Record<string, unknown>[];
        if (Array.isArray(r.generic_resources)) res.generic_resources = r.generic_resources;
        d.resources[k] = res;
      }
    }
    return d;
  }

  network(project: string, key: string, raw: PlainMap): Network {
    const external = raw.external === true || isMap(raw.external);
    const legacyName = isMap(raw.external) && typeof raw.external.name === 'string' ? raw.external.name : undefined;
    const n: Network = { name: typeof raw.name === 'string' ? raw.name : legacyName ?? (external ? key : `${project}_${key}`) };
    copyScalars(raw, n, ['driver', 'internal', 'attachable', 'enable_ipv4', 'enable_ipv6']);
    if (external) n.external = true;
    if (raw.driver_opts !== undefined) n.driver_opts = stringMap(raw.driver_opts);
    if (raw.labels !== undefined) n.labels = stringMap(raw.labels);
    if (isMap(raw.ipam)) {
      const ipam = raw.ipam;
      n.ipam = {};
      if (ipam.driver !== undefined) n.ipam.driver = String(ipam.driver);
      if (Array.isArray(ipam.config)) n.ipam.config = ipam.config.map((c) => ({ ...asMap(c) }) as IpamConfig);
      if (ipam.options !== undefined) n.ipam.options = stringMap(ipam.options);
    }
    const ext = extensionsOf(raw);
    if (Object.keys(ext).length > 0) n.extensions = ext;
    return n;
  }

  volume(project: string, key: string, raw: PlainMap): Volume {
    const external = raw.external === true || isMap(raw.external);
    const legacyName = isMap(raw.external) && typeof raw.external.name === 'string' ? raw.external.name : undefined;
    const v: Volume = { name: typeof raw.name === 'string' ? raw.name : legacyName ?? (external ? key : `${project}_${key}`) };
    if (raw.driver !== undefined) v.driver = String(raw.driver);
    if (external) v.external = true;
    if (raw.driver_opts !== undefined) v.driver_opts = stringMap(raw.driver_opts);
    if (raw.labels !== undefined) v.labels = stringMap(raw.labels);
    const ext = extensionsOf(raw);
    if (Object.keys(ext).length > 0) v.extensions = ext;
    return v;
  }

  secretSource(project: string, key: string, raw: PlainMap): SecretSource {
    const external = raw.external === true || isMap(raw.external);
    const s: SecretSource = { name: typeof raw.name === 'string' ? raw.name : external ? key : `${project}_${key}` };
    copyScalars(raw, s, ['file', 'environment', 'content', 'driver', 'template_driver']);
    if (external) s.external = true;
    if (raw.driver_opts !== undefined) s.driver_opts = stringMap(raw.driver_opts);
    if (raw.labels !== undefined) s.labels = stringMap(raw.labels);
    return s;
  }

  private duration(raw: unknown, path: PathSegment[]): number {
    const ms = typeof raw === 'number' ? raw / 1e6 : parseDuration(String(raw));
    if (ms === undefined) {
      this.fail(path, `${JSON.stringify(raw)} is not a duration`, 'write it like 30s, 1m30s or 500ms');
      return 0;
    }
    return ms;
  }

  private bytes(raw: unknown, path: PathSegment[], allowUnlimited = false): number | undefined {
    if (allowUnlimited && (raw === -1 || raw === '-1')) return -1;
    const b = parseBytes(raw as string | number);
    if (b === undefined) this.fail(path, `${JSON.stringify(raw)} is not a size`, 'write it like 512m, 1g or 1024 (bytes)');
    return b;
  }

  private number(raw: unknown, path: PathSegment[]): number {
    const n = typeof raw === 'number' ? raw : Number(raw);
    if (!Number.isFinite(n)) {
      this.fail(path, `${JSON.stringify(raw)} is not a number`);
      return 0;
    }
    return n;
  }
}

function device(raw: unknown): Device {
  if (isMap(raw)) {
    const source = String(raw.source);
    return { source, target: String(raw.target ?? source), permissions: String(raw.permissions ?? 'rwm') };
  }
  const [source = '', target, permissions] = String(raw).split(':');
  return { source, target: target ?? source, permissions: permissions ?? 'rwm' };
}

function dependsOn(raw: unknown): Record<string, Dependency> {
  const out: Record<string, Dependency> = {};
  if (Array.isArray(raw)) {
    for (const name of raw) out[String(name)] = { condition: 'service_started', required: true, restart: false };
  } else if (isMap(raw)) {
    for (const [name, v] of Object.entries(raw)) {
      const d = asMap(v);
      out[name] = {
        condition: (d.condition as Dependency['condition'] | undefined) ?? 'service_started',
        required: d.required === undefined ? true : Boolean(d.required),
        restart: Boolean(d.restart),
      };
    }
  }
  return out;
}

function serviceNetworks(raw: unknown): Record<string, ServiceNetwork | null> {
  if (raw === undefined) return { default: null };
  const out: Record<string, ServiceNetwork | null> = {};
  if (Array.isArray(raw)) for (const n of raw) out[String(n)] = null;
  else {
    for (const [name, v] of Object.entries(asMap(raw))) {
      if (!isMap(v)) {
        out[name] = null;
        continue;
      }
      const sn: ServiceNetwork = {};
      copyScalars(v, sn, ['ipv4_address', 'ipv6_address', 'mac_address', 'priority', 'gw_priority', 'interface_name']);
      if (v.aliases !== undefined) sn.aliases = strings(v.aliases);
      if (v.link_local_ips !== undefined) sn.link_local_ips = strings(v.link_local_ips);
      if (v.driver_opts !== undefined) sn.driver_opts = stringMap(v.driver_opts);
      out[name] = Object.keys(sn).length > 0 ? sn : null;
    }
  }
  return out;
}

function envFiles(raw: unknown): EnvFile[] {
  return (typeof raw === 'string' ? [raw] : asList(raw)).map((e) => {
    if (typeof e === 'string') return { path: e, required: true };
    const m = asMap(e);
    const f: EnvFile = { path: String(m.path), required: m.required === undefined ? true : Boolean(m.required) };
    if (m.format !== undefined) f.format = String(m.format);
    return f;
  });
}

function fileRefs(raw: unknown): ServiceFileRef[] {
  return asList(raw).map((r) => {
    if (typeof r === 'string') return { source: r };
    const m = asMap(r);
    const ref: ServiceFileRef = { source: String(m.source) };
    if (m.target !== undefined) ref.target = String(m.target);
    if (m.uid !== undefined) ref.uid = String(m.uid);
    if (m.gid !== undefined) ref.gid = String(m.gid);
    if (m.mode !== undefined) ref.mode = typeof m.mode === 'number' ? m.mode : Number.parseInt(String(m.mode), 8);
    return ref;
  });
}

function extraHosts(raw: unknown): string[] {
  if (isMap(raw)) {
    return Object.entries(raw).flatMap(([host, ips]) => (Array.isArray(ips) ? ips : [ips]).map((ip) => `${host}=${ip}`));
  }
  // compose accepts host:ip and host=ip; keep `=` so IPv6 addresses stay unambiguous
  return asList(raw).map((e) => {
    const s = String(e);
    if (s.includes('=')) return s;
    const i = s.indexOf(':');
    return i < 0 ? s : `${s.slice(0, i)}=${s.slice(i + 1)}`;
  });
}

function ulimits(raw: unknown): Record<string, Ulimit> {
  const out: Record<string, Ulimit> = {};
  for (const [k, v] of Object.entries(asMap(raw))) {
    out[k] = typeof v === 'number' ? { soft: v, hard: v } : { soft: Number(asMap(v).soft), hard: Number(asMap(v).hard) };
  }
  return out;
}

function watchRule(raw: PlainMap): WatchRule {
  const r: WatchRule = { path: String(raw.path), action: raw.action as WatchRule['action'] };
  copyScalars(raw, r, ['target', 'initial_sync']);
  if (raw.ignore !== undefined) r.ignore = strings(raw.ignore);
  if (raw.include !== undefined) r.include = strings(raw.include);
  if (isMap(raw.exec)) r.exec = raw.exec;
  return r;
}

/** `[K=V, K]` or `{K: V}` -> entries; a key without a value maps to null. */
function dictEntries(raw: unknown): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  if (Array.isArray(raw)) {
    for (const item of raw) {
      const [k, v] = splitKeyValue(String(item));
      out[k] = v;
    }
  } else if (isMap(raw)) {
    for (const [k, v] of Object.entries(raw)) out[k] = v === null || v === undefined ? null : String(v);
  }
  return out;
}

function stringMap(raw: unknown): StringMap {
  const out: StringMap = {};
  for (const [k, v] of Object.entries(dictEntries(raw))) out[k] = v ?? '';
  return out;
}

function strings(raw: unknown): string[] {
  if (raw === undefined || raw === null) return [];
  return (typeof raw === 'string' ? [raw] : asList(raw)).map(String);
}

function asList(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function asMap(v: unknown): PlainMap {
  return isMap(v) ? v : {};
}

function extensionsOf(raw: PlainMap): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) if (k.startsWith('x-')) out[k] = v;
  return out;
}

function copyScalars<T extends object>(from: PlainMap, to: T, keys: readonly string[]): void {
  for (const k of keys) {
    const v = from[k];
    if (v !== undefined && v !== null) (to as Record<string, unknown>)[k] = v;
  }
}
