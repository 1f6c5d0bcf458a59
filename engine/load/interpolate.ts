/**
 * Interpolation over the whole data tree (values only, never keys), then the casts compose
 * applies where a field's type is not a string: `read_only: ${RO}` becomes a boolean,
 * `replicas: ${N}` an integer. Casting happens before validation, so the schema can type
 * those fields strictly and still accept interpolated values.
 */
import { ErrorList, StackError } from '../errors.js';
import { locate, type PathSegment } from './source-map.js';
import { PathTable } from './path-pattern.js';
import { substitute, TemplateError, type Lookup } from './template.js';
import { Tagged } from './yaml-source.js';
import type { PlainMap } from './plain.js';

export interface InterpolationResult {
  /** names of variables used without a value or a default, for one warning each */
  missing: Set<string>;
}

export function interpolateTree(root: PlainMap, lookup: Lookup, errors: ErrorList): InterpolationResult {
  const missing = new Set<string>();
  const visit = (value: unknown, path: PathSegment[]): unknown => {
    if (typeof value === 'string') {
      if (!value.includes('$')) return castAt(path, value);
      try {
        const r = substitute(value, lookup);
        for (const m of r.missing) missing.add(m);
        return castAt(path, r.value);
      } catch (e) {
        if (!(e instanceof TemplateError)) throw e;
        errors.add(
          new StackError(`${path.join('.')}: ${e.message}`, { location: locate(root, path), path: path.join('.'), hint: e.hint }),
        );
        return value;
      }
    }
    if (value instanceof Tagged) return new Tagged(value.tag, visit(value.value, path));
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) value[i] = visit(value[i], [...path, i]);
      return value;
    }
    if (value !== null && typeof value === 'object') {
      const obj = value as PlainMap;
      for (const k of Object.keys(obj)) obj[k] = visit(obj[k], [...path, k]);
      return obj;
    }
    return value;
  };
  visit(root, []);
  return { missing };
}

type Cast = (s: string) => unknown;

const toBool: Cast = (s) => {
  switch (s.toLowerCase()) {
    case 'true':
    case 'yes':
    case 'y':
    case 'on':
      return true;
    case 'false':
    case 'no':
    case 'n':
    case 'off':
      return false;
    default:
      return undefined;
  }
};
const toInt: Cast = (s) => (/^[-+]?\d+$/.test(s.trim()) ? Number.parseInt(s, 10) : undefined);
const toFloat: Cast = (s) => (/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s.trim()) ? Number.parseFloat(s) : undefined);

/** Fields typed boolean, integer or number in the schema; strings there are cast. */
export const CASTS = new PathTable<Cast>({
  'services.*.cpu_count': toInt,
  'services.*.cpu_percent': toInt,
  'services.*.cpu_period': toInt,
  'services.*.cpu_quota': toInt,
  'services.*.cpu_rt_period': toInt,
  'services.*.cpu_rt_runtime': toInt,
  'services.*.cpu_shares': toInt,
  'services.*.cpus': toFloat,
  'services.*.init': toBool,
  'services.*.attach': toBool,
  'services.*.depends_on.*.required': toBool,
  'services.*.depends_on.*.restart': toBool,
  'services.*.deploy.replicas': toInt,
  'services.*.deploy.update_config.parallelism': toInt,
  'services.*.deploy.update_config.max_failure_ratio': toFloat,
  'services.*.deploy.rollback_config.parallelism': toInt,
  'services.*.deploy.rollback_config.max_failure_ratio': toFloat,
  'services.*.deploy.restart_policy.max_attempts': toInt,
  'services.*.deploy.placement.max_replicas_per_node': toInt,
  'services.*.deploy.resources.limits.pids': toInt,
  'services.*.healthcheck.retries': toInt,
  'services.*.healthcheck.disable': toBool,
  'services.*.oom_kill_disable': toBool,
  'services.*.oom_score_adj': toInt,
  'services.*.mem_swappiness': toInt,
  'services.*.pids_limit': toInt,
  'services.*.ports.*.target': toInt,
  'services.*.privileged': toBool,
  'services.*.read_only': toBool,
  'services.*.scale': toInt,
  'services.*.stdin_open': toBool,
  'services.*.tty': toBool,
  'services.*.use_api_socket': toBool,
  'services.*.ulimits.*': toInt,
  'services.*.ulimits.*.hard': toInt,
  'services.*.ulimits.*.soft': toInt,
  'services.*.volumes.*.read_only': toBool,
  'services.*.volumes.*.bind.create_host_path': toBool,
  'services.*.volumes.*.volume.nocopy': toBool,
  'services.*.build.privileged': toBool,
  'services.*.build.no_cache': toBool,
  'services.*.build.pull': toBool,
  'services.*.networks.*.priority': toInt,
  'services.*.networks.*.gw_priority': toInt,
  'services.*.develop.watch.*.initial_sync': toBool,
  'services.*.develop.watch.*.exec.privileged': toBool,
  'networks.*.external': toBool,
  'networks.*.internal': toBool,
  'networks.*.attachable': toBool,
  'networks.*.enable_ipv4': toBool,
  'networks.*.enable_ipv6': toBool,
  'volumes.*.external': toBool,
  'secrets.*.external': toBool,
  'configs.*.external': toBool,
  'services.*.env_file.*.required': toBool,
  'services.*.blkio_config.weight': toInt,
  'services.*.blkio_config.weight_device.*.weight': toInt,
  'services.*.build.ulimits.*': toInt,
  'services.*.build.ulimits.*.soft': toInt,
  'services.*.build.ulimits.*.hard': toInt,
  'services.*.post_start.*.privileged': toBool,
  'services.*.pre_stop.*.privileged': toBool,
  'services.*.deploy.resources.reservations.generic_resources.*.discrete_resource_spec.value': toInt,
  'models.*.context_size': toInt,
});

function castAt(path: PathSegment[], value: string): unknown {
  const cast = CASTS.lookup(path);
  if (!cast) return value;
  const v = cast(value);
  // an uncastable value stays a string so validation reports it with its position
  return v === undefined ? value : v;
}
