/**
 * A scripted pexlab server for the model's state-machine tests. The model talks to the
 * server only through IPexlabClient; the real server is covered by pytest (server) and
 * Galata (UI against a live Jupyter server). This fake keeps the same JSON shapes.
 */
import { PexlabAPIError } from '../api';
import type { IPexlabClient } from '../client';
import type {
  IArtifactFile,
  IArtifactListing,
  IArtifactRecord,
  IBuildArtifacts,
  IBuild,
  IBuildRequest,
  IDistribution,
  IEditableZip,
  IEnvironment,
  IEnvironmentQuery,
  IPexStatus,
  IResolvedBuild,
  IStamp
} from '../tokens';

export const KERNEL = '0b8f5c7e-3a2d-4e4f-9a1b-123456789abc';
export const OTHER_KERNEL = '11111111-2222-4333-8444-555555555555';

export function dist(
  name: string,
  version = '1.0',
  projectDir: string | null = null
): IDistribution {
  return {
    name,
    version,
    location: '/venv/lib/python3.11/site-packages',
    installer: 'pip',
    editable: projectDir !== null,
    project_dir: projectDir,
    warnings: []
  };
}

export function pex(
  state: IPexStatus['state'],
  extra: Partial<IPexStatus> = {}
): IPexStatus {
  return {
    state,
    fingerprint: state === 'missing' ? null : 'f'.repeat(64),
    built_at: null,
    added: [],
    removed: [],
    changed: [],
    editables_changed: [],
    python_changed: null,
    pex_path: null,
    uploads: {},
    ...extra
  };
}

/** The server's resolution of the default choices: nothing to override, nothing uploaded. */
export function resolved(extra: Partial<IResolvedBuild> = {}): IResolvedBuild {
  // What the engine's master_kind answers for the masters these tests use.
  const master = extra.master ?? 'local[*]';
  const kind: IResolvedBuild['master_kind'] = master.startsWith('local')
    ? 'local'
    : master.startsWith('sc://')
      ? 'connect'
      : master.startsWith('spark://')
        ? 'standalone'
        : master === 'yarn'
          ? 'yarn'
          : 'k8s';
  return {
    options: {},
    overrides: {},
    include_editable: true,
    storage: null,
    master: 'local[*]',
    master_kind: kind,
    default_master: 'local[*]',
    errors: {},
    job: null,
    fingerprint: 'f'.repeat(64),
    ...extra
  };
}

export function environment(extra: Partial<IEnvironment> = {}): IEnvironment {
  return {
    kernel_id: KERNEL,
    python: '/venv/bin/python',
    prefix: '/venv',
    version: '3.11.7',
    implementation: 'cpython',
    platform: 'linux_x86_64',
    kind: 'venv',
    distributions: [dist('numpy', '2.1.0'), dist('demo', '0.1', '/src/demo')],
    warnings: [],
    pex: pex('missing'),
    build: resolved(),
    excluded: [],
    pexlab: { installed: true, version: '0.1.0' },
    stamp: '1',
    ...extra
  };
}

export function build(extra: Partial<IBuild> = {}): IBuild {
  return {
    id: 'a'.repeat(32),
    kernel_id: KERNEL,
    python: '/venv/bin/python',
    fingerprint: 'f'.repeat(64),
    state: 'running',
    phase: 'build',
    progress: 0.4,
    message: '',
    log: ['resolving'],
    artifacts: null,
    error: null,
    created_at: new Date().toISOString(),
    started_at: new Date().toISOString(),
    finished_at: null,
    storage: null,
    options: {},
    include_editable: true,
    ...extra
  };
}

export function artifactFile(
  extra: Partial<IArtifactFile> = {}
): IArtifactFile {
  return {
    kind: 'pex',
    name: 'env.pex',
    local_path: '/cache/env.pex',
    url: null,
    size: 1,
    sha256: '0'.repeat(64),
    ...extra
  };
}

/** The `artifacts` of a succeeded build. */
export function buildArtifacts(
  extra: Partial<IBuildArtifacts> = {}
): IBuildArtifacts {
  return {
    fingerprint: 'f'.repeat(64),
    python: '/venv/bin/python',
    python_version: '3.11.7',
    pex: artifactFile(),
    editables: [],
    reused: false,
    seconds: 1,
    storage: null,
    warnings: [],
    ...extra
  };
}

/** One entry of GET /pexlab/artifacts. */
export function artifactRecord(
  extra: Partial<IArtifactRecord> = {}
): IArtifactRecord {
  const fingerprint = extra.fingerprint ?? 'f'.repeat(64);
  return {
    fingerprint,
    pex_path: `/cache/${fingerprint.slice(0, 12)}/env.pex`,
    python: '/venv/bin/python',
    python_version: '3.11.7',
    platform: 'linux_x86_64',
    size: 1024,
    sha256: '0'.repeat(64),
    built_at: Date.now() / 1000,
    pex_version: '2.67.2',
    editables: [],
    uploads: {},
    distributions: [],
    options: {},
    build_seconds: 1,
    prefix: '/venv',
    current: false,
    ...extra
  };
}

/** What GET /pexlab/kernels/<id>/stamp answers. */
export function stampOf(stamp: string): IStamp {
  return { kernel_id: KERNEL, python: '/venv/bin/python', stamp };
}

export class FakeClient implements IPexlabClient {
  env: IEnvironment | Error = environment();
  builds = new Map<string, IBuild>();
  artifacts: IArtifactRecord[] | Error = [];
  editableZips: IEditableZip[] = [];
  calls: string[] = [];
  /** The site folders' stamp (a terminal `pip install` changes it), or an error. */
  stamp: IStamp | Error = stampOf('1');
  /** The last environment query. */
  lastQuery: IEnvironmentQuery | undefined;
  /** What POST /builds answers (a build, or an error). */
  nextBuild: IBuild | Error = build({
    state: 'queued',
    phase: null,
    progress: 0
  });

  async getEnvironment(
    kernelId: string,
    query?: IEnvironmentQuery
  ): Promise<IEnvironment> {
    this.calls.push(`env ${kernelId}`);
    this.lastQuery = query;
    if (this.env instanceof Error) {
      throw this.env;
    }
    // The server reads the stamp with the environment.
    const stamp = this.stamp instanceof Error ? '' : this.stamp.stamp;
    return { ...this.env, kernel_id: kernelId, stamp };
  }
  async getStamp(kernelId: string): Promise<IStamp> {
    this.calls.push(`stamp ${kernelId}`);
    if (this.stamp instanceof Error) {
      throw this.stamp;
    }
    return this.stamp;
  }
  async startBuild(request: IBuildRequest): Promise<IBuild> {
    this.calls.push(`start ${JSON.stringify(request)}`);
    if (this.nextBuild instanceof Error) {
      throw this.nextBuild;
    }
    this.builds.set(this.nextBuild.id, this.nextBuild);
    return this.nextBuild;
  }
  async getBuild(id: string): Promise<IBuild> {
    this.calls.push(`get ${id}`);
    const b = this.builds.get(id);
    if (!b) {
      throw new PexlabAPIError(`No build with id ${id}.`, 404);
    }
    return b;
  }
  async listBuilds(): Promise<IBuild[]> {
    this.calls.push('list');
    return [...this.builds.values()];
  }
  async cancelBuild(id: string): Promise<IBuild | null> {
    this.calls.push(`cancel ${id}`);
    const b = { ...this.builds.get(id)!, state: 'cancelled' as const };
    this.builds.set(id, b);
    return b;
  }
  async listArtifacts(kernelId?: string): Promise<IArtifactListing> {
    this.calls.push('artifacts');
    this.lastArtifactsKernel = kernelId;
    if (this.artifacts instanceof Error) {
      throw this.artifacts;
    }
    return {
      cache_dir: '/cache',
      artifacts: this.artifacts,
      editables: this.editableZips
    };
  }
  lastArtifactsKernel: string | undefined;
  async deleteArtifact(fingerprint: string): Promise<void> {
    this.calls.push(`delete ${fingerprint}`);
  }
}

/** Let pending promise callbacks run. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await Promise.resolve();
  }
  await new Promise(r => setTimeout(r, 0));
}
