import { Token } from '@lumino/coreutils';
import type { ISignal } from '@lumino/signaling';

/**
 * TypeScript shapes of the pexlab server extension's REST API (see pexlab/server/ and
 * its openapi.yaml). Field names follow the server's JSON exactly; a field is optional only
 * when the server itself leaves it out in some states.
 */

export interface IDistribution {
  /** Canonical (PEP 503) name. */
  name: string;
  version: string;
  location: string;
  installer: string;
  /** Installed with `pip install -e`: code lives in `project_dir`. */
  editable: boolean;
  project_dir: string | null;
  /** An editable project's zip name with its code as it is now (null: code not found). */
  zip?: string | null;
  warnings: string[];
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
  /** Unix time of that build. */
  built_at: number | null;
  added: IDistributionRef[];
  removed: IDistributionRef[];
  changed: IVersionChange[];
  editables_changed: IEditableChange[];
  python_changed: IVersionChange | null;
  /** Only when stale for another reason than the packages (options, pex version). */
  reason?: string;
  pex_path: string | null;
  uploads: Record<string, string>;
}

export type EnvironmentKind = 'venv' | 'conda' | 'system' | string;

/**
 * The user's build choices: the only options the frontend sends. The server resolves them
 * against its own defaults (c.PexLab.default_excludes, ...) into a full BuildOptions.
 */
export interface IBuildChoices {
  /** Packages left out in addition to the server's default excludes. */
  exclude_extra: string[];
  include_editable: boolean;
  /** How the environment travels: `BuildOptions.layout` ("zipapp" | "layers"). */
  layout: string;
}

/**
 * What the server resolved for a build of this kernel with the given choices: what the
 * inserted cells must pass so that running them reuses a panel build (same fingerprint).
 */
export interface IResolvedBuild {
  /** Full `BuildOptions.to_json()`. */
  options: Record<string, unknown>;
  /** `BuildOptions.overrides()`: the fields that differ from `BuildOptions()`. */
  overrides: Record<string, unknown>;
  /** The user's include_editable, as the server took it. */
  include_editable: boolean;
  /** Where builds upload (resolved storage URL), or null: nothing uploaded. */
  storage: string | null;
  /** The user's master, else `c.PexLab.master`: what the cells use. */
  master: string;
  /** The engine's reading of `master` (pexlab.spark.conf.master_kind); null: it does not parse. */
  master_kind: ServerMasterKind | null;
  /** `c.PexLab.master`. */
  default_master: string;
  /** Fingerprint of the PEX these choices give for the environment as it is now. */
  fingerprint: string;
  /** Settings that cannot be used, with the engine's reason (shown next to the setting). */
  errors: ISettingErrors;
  /** The newest build job for exactly these artifacts, or null (never another request's). */
  job: IBuild | null;
}

/** The master kinds of pexlab.spark.conf.master_kind. */
export type ServerMasterKind =
  'local' | 'standalone' | 'yarn' | 'k8s' | 'connect';

/** `build.errors` of the environment response. */
export interface ISettingErrors {
  master?: string;
  storage?: string;
}

/** An installed package the PEX leaves out, and why (`excluded` of the environment). */
export interface IExcludedPackage {
  name: string;
  version: string;
  reason: string;
}

/** One editable zip of the cache (GET /pexlab/artifacts `editables`). */
export interface IEditableZip {
  name: string;
  path: string;
  project: string;
  size: number;
  /** Unix time. */
  modified_at: number;
  /** Zipping the kernel's project now gives exactly this file. */
  current: boolean;
  /** An older zip of one of the kernel's projects. */
  stale: boolean;
}

/** GET /pexlab/artifacts. */
export interface IArtifactListing {
  cache_dir: string;
  artifacts: IArtifactRecord[];
  editables: IEditableZip[];
}

/** Is pexlab importable in the kernel's interpreter? */
export interface IPexlabInstall {
  installed: boolean;
  version: string | null;
}

export interface IEnvironment {
  kernel_id: string;
  python: string;
  prefix: string;
  version: string;
  implementation: string;
  platform: string;
  kind: EnvironmentKind;
  distributions: IDistribution[];
  warnings: string[];
  pex: IPexStatus;
  build: IResolvedBuild;
  /** Installed packages not shipped, with the reason. */
  excluded: IExcludedPackage[];
  pexlab: IPexlabInstall;
  /** Stamp of the site folders read with this environment (see IStamp). */
  stamp: string;
}

/** GET /pexlab/kernels/<id>/stamp: cheap change detector for the kernel's site folders. */
export interface IStamp {
  kernel_id: string;
  python: string;
  /** Digest of the site folders' metadata entries: changes on any install. */
  stamp: string;
}

export type BuildState =
  'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'interrupted';

export type BuildPhase = 'inspect' | 'build' | 'zip' | 'upload' | string;

export interface IArtifactFile {
  kind: 'pex' | 'editable' | string;
  name: string;
  local_path: string;
  /** Where it was uploaded; null: no storage. */
  url: string | null;
  size: number;
  sha256: string;
}

/** `Artifacts.to_json()` of the engine (pexlab/package.py). */
export interface IBuildArtifacts {
  fingerprint: string;
  python: string;
  python_version: string;
  pex: IArtifactFile;
  editables: IArtifactFile[];
  reused: boolean;
  seconds: number;
  storage: string | null;
  warnings: string[];
}

export interface IBuild {
  id: string;
  kernel_id: string;
  python: string;
  fingerprint: string | null;
  state: BuildState;
  phase: BuildPhase | null;
  progress: number;
  message: string;
  /** Tail of the build log (newest last). */
  log: string[];
  artifacts: IBuildArtifacts | null;
  error: string | null;
  /** ISO times. */
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  storage: string | null;
  options: Record<string, unknown>;
  include_editable: boolean;
  /** The editable zips (content-hashed names) the job was asked for; null: older record. */
  editables?: string[] | null;
  /** POST only: false when an existing job for the same artifact was returned. */
  created?: boolean;
}

/** One entry of GET /pexlab/artifacts (a cached build record). */
export interface IArtifactRecord {
  fingerprint: string;
  pex_path: string;
  python: string;
  python_version: string;
  platform: string;
  size: number;
  sha256: string;
  /** Unix time. */
  built_at: number;
  pex_version: string;
  /** Editable projects left out of the PEX (they travel as zips). */
  editables: string[];
  /** Destination -> remote URL. */
  uploads: Record<string, string>;
  distributions: IDistributionRef[];
  options: Record<string, unknown>;
  build_seconds: number;
  prefix: string;
  /**
   * A layered build's zips (README, "Layered environments"); `pex_path` and `size` are then
   * its launcher's. Absent or empty for a single-file PEX.
   */
  layers?: { file: string; size: number }[];
  /** Is it the PEX of the kernel (or fingerprint) the request named? */
  current: boolean;
}

export interface IBuildRequest {
  kernel_id: string;
  storage?: string;
  /** Only the user's choices; never defaults (the server owns them). */
  options?: Partial<IBuildChoices>;
}

/** What the environment query and a build need besides the kernel: the user's choices. */
export interface IEnvironmentQuery {
  options: IBuildChoices;
  /** Storage URL chosen by the user; empty: the server's default. */
  storage: string;
  /** Spark master chosen by the user; empty: the server's default. */
  master: string;
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
  export const showLog = 'pexlab:show-build-log';
  export const installPexlab = 'pexlab:install-pexlab';
}

/** Python value that can appear in Spark conf. */
export type ConfValue = string | number | boolean | null;

export type InsertPosition = 'after-title' | 'top' | 'below-active';

/** The extension's user settings (schema/plugin.json). */
export interface ISparkSettings {
  /** Spark master of the cells; "" = the server's `c.PexLab.master`. */
  master: string;
  /** Storage URL chosen by the user; "" = the server's `c.PexLab.storage`. */
  storage: string;
  appName: string;
  sparkConf: Record<string, ConfValue>;
  includeEditable: boolean;
  /** Packages left out in addition to the server's default excludes. */
  excludedPackages: string[];
  /** One PEX file or layers (schema/plugin.json's choices; the server checks the value). */
  layout: string;
  insertPosition: InsertPosition;
  buildBeforeInsert: boolean;
}

/** What kind of master a URL names, as far as shipping the environment goes. */
export type MasterKind = 'local' | 'connect' | 'cluster';

/**
 * Everything the cells say and pass: the user's settings resolved with the server's
 * answer for this kernel (`build` of the environment response).
 */
export interface ISetupPlan {
  /** The master (or Spark Connect URL) the cells use; null: unknown (no server answer). */
  master: string | null;
  kind: MasterKind | null;
  /** `build.storage`: where the PEX is uploaded; null: not uploaded (served by the driver). */
  storage: string | null;
  /** `build.overrides`: passed as `options=` so the cell builds what the panel builds. */
  overrides: Record<string, unknown>;
  appName: string;
  conf: Record<string, ConfValue>;
  includeEditable: boolean;
  /** Is pexlab importable in the kernel? null: unknown. */
  pexlabInstalled: boolean | null;
  /** Settings the server refused (`build.errors`): the cells must not be inserted silently. */
  errors: ISettingErrors;
}

/** The kernel the panel follows (the active notebook's). */
export interface IKernelRef {
  id: string;
  /** Kernelspec name, e.g. "pexlab-demo". */
  name?: string;
  /** What to call it in the UI (kernel display name). */
  label?: string;
  /** The notebook using it. */
  path?: string;
}

/** Where the panel is in loading the kernel's environment. */
export type PanelStatus = 'no-kernel' | 'loading' | 'ready' | 'error';

/** What the panel shows about the PEX: the server's state, or "building" while a job runs. */
export type PexView =
  'unknown' | 'missing' | 'building' | 'up-to-date' | 'stale';

export interface IModelState {
  kernel: IKernelRef | null;
  status: PanelStatus;
  environment: IEnvironment | null;
  /** Why the environment could not be loaded (server message). */
  error: string | null;
  /** Why the last refresh failed while an earlier environment is still shown. */
  refreshError: string | null;
  /** The build of this kernel's environment: running, or the last one still relevant. */
  build: IBuild | null;
  /** Why starting or cancelling a build failed (server message). */
  buildError: string | null;
  /** The user's settings (what the cells and builds use). */
  settings: ISparkSettings;
  artifacts: IArtifactRecord[];
  /** The cache's editable zips, marked current/stale against the followed kernel. */
  editableZips: IEditableZip[];
  artifactsError: string | null;
}

/**
 * The "Spark environment" model of the active kernel, provided by the pexlab plugin so other
 * extensions can read the state, follow it, and start builds.
 */
export interface ISparkEnvironmentModel {
  readonly state: Readonly<IModelState>;
  readonly pexView: PexView;
  readonly isBuilding: boolean;
  /** What the setup cells pass and say, for the current settings and environment. */
  readonly plan: ISetupPlan;
  /** Emitted on every state change. */
  readonly stateChanged: ISignal<ISparkEnvironmentModel, void>;
  /** Emitted once when a build this model followed finishes (any final state). */
  readonly buildFinished: ISignal<ISparkEnvironmentModel, IBuild>;
  /** Emitted when a build request found its artifacts already made (nothing ran). */
  readonly alreadyBuilt: ISignal<ISparkEnvironmentModel, IBuild>;
  /** Emitted when a build starts being followed (panel, CLI, another tab). */
  readonly buildStarted: ISignal<ISparkEnvironmentModel, IBuild>;
  // No setKernel / setSettings: the plugin feeds the model the active kernel and the
  // settings registry; a second writer would only be overwritten by them.
  refresh(): Promise<void>;
  refreshArtifacts(): Promise<void>;
  startBuild(): Promise<IBuild | null>;
  cancelBuild(): Promise<void>;
}

export const ISparkEnvironment = new Token<ISparkEnvironmentModel>(
  'pexlab:ISparkEnvironment',
  "The Spark environment (PEX state, builds, artifacts) of the active notebook's kernel."
);
