import type { TranslationBundle } from '@jupyterlab/translation';
import type { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import { PexlabAPIError } from './api';
import { buildQuery, DEFAULT_SETTINGS, setupPlan } from './cells';
import { IPexlabClient, RestClient } from './client';
import { toSeconds } from './components/format';
import { backoffPoll } from './poll';
import {
  FINISHED_STATES,
  IArtifactRecord,
  IBuild,
  IEnvironment,
  IEnvironmentQuery,
  IKernelRef,
  IModelState,
  ISetupPlan,
  ISparkEnvironmentModel,
  ISparkSettings,
  PexView
} from './tokens';

export type { IKernelRef, IModelState, PanelStatus, PexView } from './tokens';

/**
 * The public state plus what only the panel cares about; kept off ISparkEnvironmentModel so
 * other extensions do not depend on how the panel looks.
 */
export interface IPanelState extends IModelState {
  /** Is the build log expanded in the panel? (Here, not in the view: a toast opens it.) */
  logOpen: boolean;
  /** `%pip install pexlab` runs in the followed kernel (the panel's button). */
  installing: boolean;
  /** Is the panel shown? (Notebook 7's button shows it as pressed.) */
  visible: boolean;
}

export interface IModelOptions {
  /** Default: the REST client, its own errors worded by `trans`. */
  client?: IPexlabClient;
  trans?: TranslationBundle;
  /** Milliseconds between build polls while a build runs. */
  activeInterval?: number;
  /** Milliseconds between polls for builds started elsewhere. */
  idleInterval?: number;
  /**
   * Milliseconds between checks of the kernel's site-folder stamp and the artifact list
   * while the panel is visible (a terminal `pip install`, a build made in the kernel).
   */
  stampInterval?: number;
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

/** Fingerprint of the PEX matching `env` as it is now, with the user's choices. */
export function currentFingerprint(env: IEnvironment | null): string | null {
  return env ? env.build.fingerprint : null;
}

export function isActive(build: IBuild | null | undefined): boolean {
  return !!build && !FINISHED_STATES.has(build.state);
}

function isFailure(build: IBuild | null | undefined): boolean {
  return !!build && !isActive(build) && build.state !== 'succeeded';
}

/**
 * The editable zips a build of `env` ships (`zip` of its editable projects), sorted; what a
 * job's `editables` is compared with.
 */
export function editableZips(env: IEnvironment): string[] {
  if (!env.build.include_editable) {
    return [];
  }
  return env.distributions
    .filter(d => d.editable && d.zip)
    .map(d => d.zip!)
    .sort();
}

/**
 * Was `build` asked for exactly the artifacts `env` gives now (fingerprint, storage, editable
 * zips)? A job for other options, another storage, other packages or other editable code is
 * another request's: its "Done" or its failure says nothing about this one.
 */
export function isJobFor(
  build: Partial<IBuild>,
  env: IEnvironment | null
): boolean {
  if (!env) {
    return false;
  }
  const resolved = env.build;
  if (
    build.fingerprint !== resolved.fingerprint ||
    (build.storage ?? null) !== resolved.storage ||
    (build.include_editable !== undefined &&
      build.include_editable !== resolved.include_editable)
  ) {
    return false;
  }
  if (Array.isArray(build.editables)) {
    const want = editableZips(env);
    const got = [...build.editables].sort();
    return want.length === got.length && want.every((z, i) => z === got[i]);
  }
  return true;
}

/**
 * Does a PEX built at `builtAt` make the failed `build` history? (Built after the failure
 * ended; without times, an up-to-date PEX is taken as the fix.)
 */
function supersedes(
  builtAt: number | string | null | undefined,
  build: IBuild | null
): boolean {
  if (!isFailure(build)) {
    return false;
  }
  const built = toSeconds(builtAt);
  const ended = toSeconds(build!.finished_at);
  return built === null || ended === null || built >= ended;
}

/**
 * State of the "Spark environment" panel for one kernel at a time.
 *
 * All server traffic goes through `client`; views listen to `stateChanged`. Builds are
 * followed by polling (`@lumino/polling`), and `handleBuildEvent` lets server events from
 * the event bus short-cut the wait. While the panel is visible, a cheap poll of the kernel's
 * site-folder stamp and of the artifact list keeps the panel true after changes made
 * elsewhere (a terminal `pip install`, a build made by the kernel or the CLI).
 */
export class SparkEnvironmentModel implements ISparkEnvironmentModel {
  constructor(options: IModelOptions = {}) {
    this._client = options.client ?? new RestClient(options.trans);
    this._activeInterval = options.activeInterval ?? 1000;
    this._idleInterval = options.idleInterval ?? 5000;
    this._stampInterval = options.stampInterval ?? 3000;
  }

  get stateChanged(): ISignal<this, void> {
    return this._stateChanged;
  }

  get buildFinished(): ISignal<this, IBuild> {
    return this._buildFinished;
  }

  get alreadyBuilt(): ISignal<this, IBuild> {
    return this._alreadyBuilt;
  }

  get buildStarted(): ISignal<this, IBuild> {
    return this._buildStarted;
  }

  get state(): Readonly<IPanelState> {
    return this._state;
  }

  get query(): Readonly<IEnvironmentQuery> {
    return this._query;
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

  /** Fingerprint of the PEX of the environment as it is now (null: none built). */
  get currentFingerprint(): string | null {
    return currentFingerprint(this._state.environment);
  }

  /** Follow another kernel (or none). Reloads the environment when the kernel differs. */
  setKernel(kernel: IKernelRef | null): Promise<void> {
    const previous = this._state.kernel;
    if (previous?.id === kernel?.id) {
      if (
        kernel &&
        previous &&
        (kernel.label !== previous.label || kernel.path !== previous.path)
      ) {
        this._update({ kernel });
      }
      return Promise.resolve();
    }
    this._stamp = null;
    this._update({
      kernel,
      status: kernel ? 'loading' : 'no-kernel',
      environment: null,
      error: null,
      refreshError: null,
      build: null,
      buildError: null,
      logOpen: false
    });
    if (!kernel) {
      return Promise.resolve();
    }
    return Promise.all([this.refresh(), this.pollBuilds()]).then(() => {
      /* both done */
    });
  }

  /**
   * The user's settings. The environment's PEX state and resolved build depend on the build
   * choices among them, so a change of those reloads it.
   */
  setSettings(settings: ISparkSettings): void {
    const next = buildQuery(settings);
    const queryChanged = JSON.stringify(next) !== JSON.stringify(this._query);
    this._query = next;
    const patch: Partial<IPanelState> = { settings };
    if (queryChanged) {
      // A refusal to start described the old choices (e.g. a storage URL the server refuses),
      // and a finished job was another request's: the refresh shows this request's own job.
      patch.buildError = null;
      if (this._state.build && !isActive(this._state.build)) {
        patch.build = null;
        patch.logOpen = false;
      }
    }
    this._update(patch);
    if (queryChanged && this._state.kernel) {
      void this.refresh();
    }
  }

  /** What the setup cells pass and say, for the current settings and environment. */
  get plan(): ISetupPlan {
    return setupPlan(this._state.settings, this._state.environment);
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
      const environment = await this._client.getEnvironment(
        kernel.id,
        this._query
      );
      if (ticket !== this._envTicket || this._isDisposed) {
        return; // a newer request (or another kernel) won
      }
      // The stamp the server read with this environment: the baseline of the stamp checks
      // (a change after it is seen by the next one).
      this._stamp = environment.stamp;
      const patch: Partial<IPanelState> = {
        environment,
        status: 'ready',
        error: null,
        refreshError: null
      };
      if (environment.pex.state === 'up-to-date') {
        // A PEX for exactly this environment exists: earlier failures no longer apply.
        patch.buildError = null;
      }
      this._update(patch);
      this._adoptJob(environment);
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

  /** Reload the artifact list; a failure is in `state.artifactsError`. */
  async refreshArtifacts(): Promise<void> {
    await this._refreshArtifacts().catch(() => undefined);
  }

  /** Rejects on failure, so that the poll backs off. */
  private async _refreshArtifacts(): Promise<void> {
    try {
      const listing = await this._client.listArtifacts(this._state.kernel?.id);
      if (this._isDisposed) {
        return;
      }
      const artifacts = listing.artifacts;
      const editableZips = listing.editables;
      const before = this._fingerprintsFor(this._state.artifacts);
      const same =
        JSON.stringify(artifacts) === JSON.stringify(this._state.artifacts) &&
        JSON.stringify(editableZips) ===
          JSON.stringify(this._state.editableZips);
      if (!same || this._state.artifactsError !== null) {
        // polled: quiet when unchanged
        this._update({ artifacts, editableZips, artifactsError: null });
      }
      const after = this._fingerprintsFor(artifacts);
      if (
        before !== after &&
        this._artifactsSeen &&
        this._state.status === 'ready' &&
        !this.isBuilding
      ) {
        // A build made elsewhere (kernel, CLI) changed this interpreter's PEX state.
        void this.refresh();
      }
      this._artifactsSeen = true;
    } catch (error) {
      this._update({ artifactsError: messageOf(error) });
      throw error;
    }
  }

  /** Start a build of the current kernel's environment (no-op while one runs). */
  async startBuild(): Promise<IBuild | null> {
    const kernel = this._state.kernel;
    if (!kernel || this.isBuilding) {
      return null;
    }
    this._update({ buildError: null });
    try {
      const build = await this._client.startBuild({
        kernel_id: kernel.id,
        options: { ...this._query.options },
        ...(this._query.storage ? { storage: this._query.storage } : {})
      });
      if (this._state.kernel?.id !== kernel.id) {
        return build;
      }
      if (build.created === false && !isActive(build)) {
        // The server had already made these artifacts: nothing ran now. Shown as such
        // ("Already built"), never as this request's result (no "built" toast).
        this._setBuild(build);
        this._alreadyBuilt.emit(build);
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

  setLogOpen(open: boolean): void {
    if (this._state.logOpen !== open) {
      this._update({ logOpen: open });
    }
  }

  setInstalling(installing: boolean): void {
    if (this._state.installing !== installing) {
      this._update({ installing });
    }
  }

  /**
   * The panel is shown or hidden. The stamp and artifact checks run only while it is shown
   * (nobody looks otherwise; opening the panel refreshes anyway).
   */
  setVisible(visible: boolean): void {
    this._visible = visible;
    if (this._state.visible !== visible) {
      this._update({ visible });
    }
    if (visible) {
      void this._stampPoll?.refresh();
    }
  }

  /**
   * One poll: follow the current build, or look for a build of this kernel's environment that
   * was started elsewhere (another tab, the CLI through the server).
   */
  async pollBuilds(): Promise<void> {
    try {
      await this._pollBuilds();
    } catch (error) {
      // The background poll reports failures (and backs off); one-off calls stay quiet.
      console.debug('pexlab: build poll failed', error);
    }
  }

  /** `pollBuilds`, rejecting when the server fails (what the background poll needs). */
  private async _pollBuilds(): Promise<void> {
    const kernel = this._state.kernel;
    if (!kernel) {
      return;
    }
    const current = this._state.build;
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
    // Only jobs for exactly the artifacts asked for now (not another notebook's, kernel's
    // or options' failure or success).
    const env = this._state.environment;
    const mine = builds.filter(
      b =>
        this._isForCurrent(b) && isJobFor(b, env) && !this._dismissed.has(b.id)
    );
    const running = mine.find(b => isActive(b));
    if (running) {
      // Fetch the full job (the list carries a short log tail only).
      this._followed.add(running.id);
      this._setBuild(await this._client.getBuild(running.id));
      this._ensurePolling();
    } else if (!current && mine.length > 0) {
      const last = mine[0]; // the newest finished one, for its log and artifacts
      const pex = this._state.environment?.pex;
      if (!(pex?.state === 'up-to-date' && supersedes(pex.built_at, last))) {
        this._setBuild(last);
      }
    }
  }

  /**
   * One check of what can change behind the panel's back: the kernel's site folders (a
   * terminal `pip install`) and the artifact cache (a build made by the kernel or the CLI).
   * Rejects when the server fails, so that the poll backs off.
   */
  async checkForChanges(): Promise<void> {
    const kernel = this._state.kernel;
    if (!kernel || this._state.status !== 'ready') {
      return;
    }
    await this._refreshArtifacts();
    if (this.isBuilding) {
      return; // the build's end refreshes everything
    }
    const stamp = (await this._client.getStamp(kernel.id)).stamp;
    if (this._state.kernel?.id !== kernel.id) {
      return;
    }
    if (this._stamp === null) {
      this._stamp = stamp;
    } else if (stamp !== this._stamp) {
      this._stamp = stamp;
      await this.refresh();
    }
  }

  /** A build event from the server's event bus (schema BUILD_EVENT_SCHEMA). */
  handleBuildEvent(event: Partial<IBuild> & { id: string }): void {
    const current = this._state.build;
    if (current && current.id === event.id) {
      if (event.state && FINISHED_STATES.has(event.state)) {
        // The end is announced with the whole job (its error, log and artifacts), not with
        // the event's few fields: a failure must say why from the first moment.
        void this._refetch(event.id);
        return;
      }
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
    this._poll = backoffPoll({
      factory: () => this._pollBuilds(),
      interval: this._idleInterval,
      standby: 'when-hidden',
      name: 'pexlab:builds'
    });
    this._stampPoll = backoffPoll({
      factory: () => this.checkForChanges(),
      interval: this._stampInterval,
      // Only while the panel is shown and the browser tab is visible.
      standby: () => !this._visible || 'when-hidden',
      name: 'pexlab:stamp'
    });
    this._ensurePolling();
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._poll?.dispose();
    this._stampPoll?.dispose();
    Signal.clearData(this);
  }

  /**
   * Show the server's job for exactly the artifacts of `env` (`build.job`), or none: a
   * finished job of another request is never left on screen. A running build stays.
   */
  private _adoptJob(env: IEnvironment): void {
    const shown = this._state.build;
    if (shown && isActive(shown)) {
      return;
    }
    for (const b of [env.build.job, shown]) {
      if (
        b &&
        env.pex.state === 'up-to-date' &&
        supersedes(env.pex.built_at, b)
      ) {
        this._dismissed.add(b.id); // a PEX built after this failure: history
      }
    }
    let job = env.build.job;
    if (job && this._dismissed.has(job.id)) {
      job = null;
    }
    if (!job) {
      // The job on screen stays only while it is one of exactly these artifacts.
      if (shown && (this._dismissed.has(shown.id) || !isJobFor(shown, env))) {
        this._update({ build: null, logOpen: false });
      }
      return;
    }
    if (shown && shown.id === job.id) {
      return; // keep the whole job already shown (the answer carries a short log)
    }
    if (isActive(job)) {
      this._followed.add(job.id);
    }
    this._setBuild(job);
  }

  private _fingerprintsFor(records: IArtifactRecord[]): string {
    const python = this._state.environment?.python;
    return records
      .filter(r => !python || r.python === python)
      .map(r => r.fingerprint)
      .sort()
      .join(',');
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
    const sameJob = !!previous && previous.id === build.id;
    if (sameJob && previous.created === false && build.created === undefined) {
      build = { ...build, created: false }; // a poll's record of it: still not this request's
    }
    const wasActive = sameJob ? isActive(previous) : false;
    const patch: Partial<IPanelState> = { build };
    if (!sameJob) {
      patch.logOpen = false;
    }
    if (isActive(build)) {
      patch.buildError = null; // a build runs: the last failure to start is over
    }
    this._update(patch);
    this._ensurePolling();
    if (isActive(build) && !sameJob) {
      this._buildStarted.emit(build);
    }
    if (!isActive(build) && (wasActive || this._followed.has(build.id))) {
      if (this._followed.delete(build.id) || wasActive) {
        this._buildFinished.emit(build);
      }
      // The PEX state and the cache changed (or not, if it failed): reload both.
      void this.refresh();
      void this.refreshArtifacts();
    }
  }

  private _update(patch: Partial<IPanelState>): void {
    if (this._isDisposed) {
      return;
    }
    this._state = { ...this._state, ...patch };
    this._stateChanged.emit();
  }

  private _client: IPexlabClient;
  private _activeInterval: number;
  private _idleInterval: number;
  private _stampInterval: number;
  private _poll: Poll | null = null;
  private _stampPoll: Poll | null = null;
  private _visible = false;
  private _query: IEnvironmentQuery = buildQuery(DEFAULT_SETTINGS);
  private _stamp: string | null = null;
  private _artifactsSeen = false;
  private _envTicket = 0;
  private _followed = new Set<string>();
  private _dismissed = new Set<string>();
  private _isDisposed = false;
  private _state: IPanelState = {
    kernel: null,
    status: 'no-kernel',
    environment: null,
    error: null,
    refreshError: null,
    build: null,
    buildError: null,
    logOpen: false,
    installing: false,
    visible: false,
    settings: DEFAULT_SETTINGS,
    artifacts: [],
    editableZips: [],
    artifactsError: null
  };
  private _stateChanged = new Signal<this, void>(this);
  private _buildFinished = new Signal<this, IBuild>(this);
  private _alreadyBuilt = new Signal<this, IBuild>(this);
  private _buildStarted = new Signal<this, IBuild>(this);
}
