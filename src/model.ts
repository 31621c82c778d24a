import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import { PexlabAPIError } from './api';
import { IPexlabClient, RestClient } from './client';
import {
  FINISHED_STATES,
  IArtifactRecord,
  IBuild,
  IBuildRequest,
  IEnvironment
} from './tokens';

/** The kernel the panel follows (the active notebook's). */
export interface IKernelRef {
  id: string;
  /** Kernelspec name, e.g. "pexlab-demo". */
  name?: string;
  /** What to call it in the UI (kernel display name or notebook path). */
  label?: string;
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
  /** The build of this kernel's environment: running, or the last one seen. */
  build: IBuild | null;
  /** Why starting or cancelling a build failed (server message). */
  buildError: string | null;
  artifacts: IArtifactRecord[];
  artifactsError: string | null;
}

export interface IModelOptions {
  client?: IPexlabClient;
  /** Milliseconds between build polls while a build runs. */
  activeInterval?: number;
  /** Milliseconds between polls for builds started elsewhere. */
  idleInterval?: number;
}

function messageOf(error: unknown): string {
  if (error instanceof PexlabAPIError) {
    return error.message;
  }
  if (error instanceof Error) {
    return error.message;
  }
  return String(error);
}

export function isActive(build: IBuild | null | undefined): boolean {
  return !!build && !FINISHED_STATES.has(build.state);
}

/**
 * State of the "Spark environment" panel for one kernel at a time.
 *
 * All server traffic goes through `client`; views listen to `stateChanged`. Builds are
 * followed by polling (`@lumino/polling`), and `handleBuildEvent` lets server events from
 * the event bus short-cut the wait.
 */
export class SparkEnvironmentModel {
  constructor(options: IModelOptions = {}) {
    this._client = options.client ?? new RestClient();
    this._activeInterval = options.activeInterval ?? 1000;
    this._idleInterval = options.idleInterval ?? 5000;
  }

  get stateChanged(): ISignal<this, void> {
    return this._stateChanged;
  }

  /** Emitted once when a build this panel followed finishes (any final state). */
  get buildFinished(): ISignal<this, IBuild> {
    return this._buildFinished;
  }

  get state(): Readonly<IModelState> {
    return this._state;
  }

  get client(): IPexlabClient {
    return this._client;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  get isBuilding(): boolean {
    return isActive(this._state.build);
  }

  get pexView(): PexView {
    if (this.isBuilding) {
      return 'building';
    }
    const pex = this._state.environment?.pex;
    return pex ? pex.state : 'unknown';
  }

  /** Follow another kernel (or none). Reloads the environment when the kernel differs. */
  setKernel(kernel: IKernelRef | null): Promise<void> {
    const previous = this._state.kernel;
    if (previous?.id === kernel?.id) {
      if (kernel && previous && kernel.label !== previous.label) {
        this._update({ kernel });
      }
      return Promise.resolve();
    }
    this._update({
      kernel,
      status: kernel ? 'loading' : 'no-kernel',
      environment: null,
      error: null,
      refreshError: null,
      build: null,
      buildError: null
    });
    if (!kernel) {
      return Promise.resolve();
    }
    return Promise.all([this.refresh(), this.pollBuilds()]).then(() => {
      /* both done */
    });
  }

  /** Reload the kernel's environment (and PEX state) from the server. */
  async refresh(): Promise<void> {
    const kernel = this._state.kernel;
    if (!kernel) {
      return;
    }
    const ticket = ++this._envTicket;
    if (this._state.status !== 'ready') {
      this._update({ status: 'loading' });
    }
    try {
      const environment = await this._client.getEnvironment(kernel.id);
      if (ticket !== this._envTicket || this._isDisposed) {
        return; // a newer request (or another kernel) won
      }
      this._update({
        environment,
        status: 'ready',
        error: null,
        refreshError: null
      });
    } catch (error) {
      if (ticket !== this._envTicket || this._isDisposed) {
        return;
      }
      if (this._state.environment && this._state.status === 'ready') {
        // Keep showing what we know (e.g. the kernel was busy); say the refresh failed.
        this._update({ refreshError: messageOf(error) });
        return;
      }
      this._update({
        status: 'error',
        environment: null,
        error: messageOf(error)
      });
    }
  }

  async refreshArtifacts(): Promise<void> {
    try {
      const artifacts = await this._client.listArtifacts();
      this._update({ artifacts, artifactsError: null });
    } catch (error) {
      this._update({ artifactsError: messageOf(error) });
    }
  }

  /** Start a build of the current kernel's environment (no-op while one runs). */
  async startBuild(
    extra: Omit<IBuildRequest, 'kernel_id'> = {}
  ): Promise<IBuild | null> {
    const kernel = this._state.kernel;
    if (!kernel || this.isBuilding) {
      return null;
    }
    this._update({ buildError: null });
    try {
      const build = await this._client.startBuild({
        kernel_id: kernel.id,
        ...extra
      });
      if (this._state.kernel?.id !== kernel.id) {
        return build;
      }
      this._followed.add(build.id);
      this._setBuild(build);
      this._ensurePolling();
      return build;
    } catch (error) {
      this._update({ buildError: messageOf(error) });
      return null;
    }
  }

  /** Ask the server to cancel the running build. */
  async cancelBuild(): Promise<void> {
    const build = this._state.build;
    if (!build || !isActive(build)) {
      return;
    }
    try {
      const updated = await this._client.cancelBuild(build.id);
      if (updated) {
        this._setBuild(updated);
      } else {
        await this.pollBuilds();
      }
    } catch (error) {
      this._update({ buildError: messageOf(error) });
    }
  }

  /**
   * One poll: follow the current build, or look for a build of this kernel's environment that
   * was started elsewhere (another tab, the CLI through the server).
   */
  async pollBuilds(): Promise<void> {
    const kernel = this._state.kernel;
    if (!kernel) {
      return;
    }
    const current = this._state.build;
    try {
      if (current && isActive(current)) {
        const build = await this._client.getBuild(current.id);
        if (this._state.kernel?.id === kernel.id) {
          this._setBuild(build);
        }
        return;
      }
      const builds = await this._client.listBuilds();
      if (this._state.kernel?.id !== kernel.id) {
        return;
      }
      const mine = builds.filter(b => this._isForCurrent(b));
      const running = mine.find(b => isActive(b));
      if (running) {
        // Fetch the full job (the list carries a short log tail only).
        this._followed.add(running.id);
        this._setBuild(await this._client.getBuild(running.id));
        this._ensurePolling();
      } else if (!current && mine.length > 0) {
        this._setBuild(mine[0]); // the newest finished one, for its log and artifacts
      }
    } catch (error) {
      // Polling errors are transient; the environment call reports a dead server.
      console.debug('pexlab: build poll failed', error);
    }
  }

  /** A build event from the server's event bus (schema BUILD_EVENT_SCHEMA). */
  handleBuildEvent(event: Partial<IBuild> & { id: string }): void {
    const current = this._state.build;
    if (current && current.id === event.id) {
      this._setBuild({ ...current, ...event } as IBuild);
      // Events carry no log or artifacts: fetch the whole job.
      void this._refetch(event.id);
    } else if (this._isForCurrent(event)) {
      void this.pollBuilds();
    }
  }

  /** Start following builds in the background (the plugin calls this; tests poll by hand). */
  startPolling(): void {
    if (this._poll || this._isDisposed) {
      return;
    }
    this._poll = new Poll({
      factory: () => this.pollBuilds(),
      frequency: {
        interval: this._idleInterval,
        backoff: false
      },
      standby: 'when-hidden',
      name: 'pexlab:builds'
    });
    this._ensurePolling();
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._poll?.dispose();
    Signal.clearData(this);
  }

  private async _refetch(id: string): Promise<void> {
    const kernelId = this._state.kernel?.id;
    try {
      const build = await this._client.getBuild(id);
      if (this._state.kernel?.id === kernelId && this._state.build?.id === id) {
        this._setBuild(build);
      }
    } catch (error) {
      console.debug('pexlab: could not fetch build', id, error);
    }
  }

  private _isForCurrent(build: Partial<IBuild>): boolean {
    const kernel = this._state.kernel;
    if (!kernel) {
      return false;
    }
    if (build.kernel_id && build.kernel_id === kernel.id) {
      return true;
    }
    const env = this._state.environment;
    return !!env && !!build.python && build.python === env.python;
  }

  private _ensurePolling(): void {
    if (!this._poll) {
      return;
    }
    const interval = this.isBuilding
      ? this._activeInterval
      : this._idleInterval;
    if (this._poll.frequency.interval !== interval) {
      this._poll.frequency = { ...this._poll.frequency, interval };
    }
  }

  private _setBuild(build: IBuild): void {
    const previous = this._state.build;
    const wasActive =
      previous && previous.id === build.id ? isActive(previous) : false;
    this._update({ build });
    this._ensurePolling();
    if (!isActive(build) && (wasActive || this._followed.has(build.id))) {
      if (this._followed.delete(build.id) || wasActive) {
        this._buildFinished.emit(build);
      }
      // The PEX state and the cache changed (or not, if it failed): reload both.
      void this.refresh();
      void this.refreshArtifacts();
    }
  }

  private _update(patch: Partial<IModelState>): void {
    if (this._isDisposed) {
      return;
    }
    this._state = { ...this._state, ...patch };
    this._stateChanged.emit();
  }

  private _client: IPexlabClient;
  private _activeInterval: number;
  private _idleInterval: number;
  private _poll: Poll | null = null;
  private _envTicket = 0;
  private _followed = new Set<string>();
  private _isDisposed = false;
  private _state: IModelState = {
    kernel: null,
    status: 'no-kernel',
    environment: null,
    error: null,
    refreshError: null,
    build: null,
    buildError: null,
    artifacts: [],
    artifactsError: null
  };
  private _stateChanged = new Signal<this, void>(this);
  private _buildFinished = new Signal<this, IBuild>(this);
}
