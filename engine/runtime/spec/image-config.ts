/**
 * The part of an OCI image's configuration (`config` in the image config JSON) that decides
 * how a container runs. Field names are the image spec's own, so the image store can hand
 * over the parsed JSON as it is. Go's encoder writes empty lists and maps as `null`, so every
 * collection may be null as well as absent.
 */
export interface ImageConfig {
  /** `name`, `uid`, `name:group`, `uid:gid`, ... as in a Dockerfile's USER */
  User?: string;
  /** `KEY=value` entries in image order */
  Env?: string[] | null;
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  WorkingDir?: string;
  StopSignal?: string;
  /** anonymous volumes the image asks for, keyed by container path */
  Volumes?: Record<string, object> | null;
  Labels?: Record<string, string> | null;
  /** `80/tcp` -> {} */
  ExposedPorts?: Record<string, object> | null;
  /** docker's extension: `Test` is `["NONE"]`, `["CMD", ...]` or `["CMD-SHELL", cmd]`; durations in nanoseconds */
  Healthcheck?: { Test?: string[] | null; Interval?: number; Timeout?: number; StartPeriod?: number; StartInterval?: number; Retries?: number } | null;
  /** Dockerfile instructions a build FROM this image runs first */
  OnBuild?: string[] | null;
  /** the shell for shell-form RUN, CMD and ENTRYPOINT */
  Shell?: string[] | null;
  /** Windows only: the command line is already escaped */
  ArgsEscaped?: boolean;
}
