/**
 * TypeScript shapes of the pexlab server extension's REST API (see pexlab/server/ and
 * its openapi.yaml). Field names follow the server's JSON exactly; optional fields are
 * ones the server may omit in older builds or for some states.
 */

export interface IDistribution {
  /** Canonical (PEP 503) name. */
  name: string;
  version: string;
  location?: string | null;
  installer?: string | null;
  /** Installed with `pip install -e`: code lives in `project_dir`. */
  editable: boolean;
  project_dir?: string | null;
  warnings?: string[];
}

export type PexState = 'missing' | 'up-to-date' | 'stale';

export interface IDistributionRef {
  name: string;
  version: string;
}

export interface IVersionChange {
  name: string;
  old: string;
  new: string;
}

export interface IEditableChange {
  name: string;
  /** "added", "removed" or "moved" (project folder differs). */
  change: string;
  project_dir?: string;
}

/**
 * PEX state of the kernel's interpreter: the difference between its environment now and the
 * last PEX built for it (pexlab/server/drift.py).
 */
export interface IPexStatus {
  state: PexState;
  /** Fingerprint of the last build for this interpreter. */
  fingerprint: string | null;
  built_at?: number | string | null;
  added: IDistributionRef[];
  removed: IDistributionRef[];
  changed: IVersionChange[];
  editables_changed: IEditableChange[];
  python_changed?: IVersionChange | null;
  reason?: string | null;
  pex_path?: string | null;
  uploads?: Record<string, string>;
}

export type EnvironmentKind = 'venv' | 'conda' | 'system' | string;

export interface IEnvironment {
  kernel_id?: string;
  python: string;
  prefix: string;
  version: string;
  implementation?: string;
  platform?: string;
  kind: EnvironmentKind;
  distributions: IDistribution[];
  warnings?: string[];
  pex?: IPexStatus | null;
}

export type BuildState =
  'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'interrupted';

export type BuildPhase = 'inspect' | 'build' | 'zip' | 'upload' | string;

export interface IArtifactFile {
  kind: 'pex' | 'editable' | string;
  name: string;
  local_path?: string | null;
  url?: string | null;
  size?: number | null;
  sha256?: string | null;
}

/** `Artifacts.to_json()` of the engine (pexlab/package.py). */
export interface IBuildArtifacts {
  fingerprint: string;
  python?: string;
  python_version?: string;
  pex: IArtifactFile;
  editables: IArtifactFile[];
  reused?: boolean;
  seconds?: number;
  storage?: string | null;
  warnings?: string[];
}

export interface IBuild {
  id: string;
  kernel_id?: string | null;
  python?: string | null;
  fingerprint?: string | null;
  state: BuildState;
  phase: BuildPhase | null;
  progress: number | null;
  message?: string | null;
  /** Tail of the build log (newest last). */
  log: string[];
  artifacts: IBuildArtifacts | null;
  error: string | null;
  created_at?: number | string | null;
  started_at?: number | string | null;
  finished_at?: number | string | null;
  storage?: string | null;
  options?: Record<string, unknown>;
  /** POST only: false when an existing job for the same artifact was returned. */
  created?: boolean;
}

/** One entry of GET /pexlab/artifacts (a cached build record). */
export interface IArtifactRecord {
  fingerprint: string;
  pex_path: string;
  python: string;
  python_version?: string;
  platform?: string;
  size: number;
  sha256?: string;
  built_at: number | string;
  pex_version?: string;
  editables?: string[];
  uploads?: Record<string, string>;
  distributions?: IDistributionRef[];
  options?: Record<string, unknown>;
  build_seconds?: number;
}

export interface IBuildRequest {
  kernel_id: string;
  storage?: string;
  options?: {
    exclude?: string[];
    include?: string[];
    compress?: boolean;
    include_editable?: boolean;
  };
}

/** Build states after which nothing changes any more. */
export const FINISHED_STATES: ReadonlySet<BuildState> = new Set<BuildState>([
  'succeeded',
  'failed',
  'cancelled',
  'interrupted'
]);

export const PLUGIN_ID = 'pexlab:plugin';

/** `$id` of the server's build event schema (pexlab/server/events/build.yaml). */
export const BUILD_EVENT_SCHEMA = 'https://events.pexlab.dev/build/v1';

export namespace CommandIDs {
  export const insertSetupCells = 'pexlab:insert-setup-cells';
  export const build = 'pexlab:build';
  export const show = 'pexlab:show';
}
