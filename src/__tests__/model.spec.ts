import { PexlabAPIError } from '../api';
import { DEFAULT_SETTINGS } from '../cells';
import { SparkEnvironmentModel } from '../model';
import type { IBuild } from '../tokens';
import {
  FakeClient,
  artifactRecord,
  buildArtifacts,
  KERNEL,
  OTHER_KERNEL,
  build,
  environment,
  flush,
  pex,
  stampOf
} from './fakes';

function setup() {
  const client = new FakeClient();
  const model = new SparkEnvironmentModel({ client });
  const finished: IBuild[] = [];
  model.buildFinished.connect((_, b) => finished.push(b));
  return { client, model, finished };
}

describe('SparkEnvironmentModel', () => {
  it('has no kernel until told, then loads the environment', async () => {
    const { model } = setup();
    expect(model.state.status).toBe('no-kernel');
    const loading = model.setKernel({ id: KERNEL, label: 'demo' });
    expect(model.state.status).toBe('loading');
    await loading;
    expect(model.state.status).toBe('ready');
    expect(model.state.environment?.python).toBe('/venv/bin/python');
    expect(model.pexView).toBe('missing');
  });

  it('reports the server message when the environment cannot be read', async () => {
    const { client, model } = setup();
    client.env = new PexlabAPIError(
      `No running kernel with id ${KERNEL}.`,
      404
    );
    await model.setKernel({ id: KERNEL });
    expect(model.state.status).toBe('error');
    expect(model.state.error).toBe(`No running kernel with id ${KERNEL}.`);
    // Retry after the server recovers.
    client.env = environment();
    await model.refresh();
    expect(model.state.status).toBe('ready');
    expect(model.state.error).toBeNull();
  });

  it('keeps the environment when a later refresh fails', async () => {
    const { client, model } = setup();
    await model.setKernel({ id: KERNEL });
    client.env = new PexlabAPIError('The kernel did not answer in 15 s.', 409);
    await model.refresh();
    expect(model.state.status).toBe('ready');
    expect(model.state.environment?.python).toBe('/venv/bin/python');
    expect(model.state.refreshError).toBe('The kernel did not answer in 15 s.');
    client.env = environment();
    await model.refresh();
    expect(model.state.refreshError).toBeNull();
  });

  it('goes missing -> building -> up-to-date', async () => {
    const { client, model, finished } = setup();
    await model.setKernel({ id: KERNEL });
    expect(model.pexView).toBe('missing');

    const started = await model.startBuild();
    expect(started?.state).toBe('queued');
    expect(client.calls).toContain(
      `start ${JSON.stringify({ kernel_id: KERNEL, options: { exclude_extra: [], include_editable: true, layout: 'zipapp' } })}`
    );
    expect(model.pexView).toBe('building');
    expect(model.isBuilding).toBe(true);
    // A second click while building does not start another build.
    expect(await model.startBuild()).toBeNull();

    const id = started!.id;
    client.builds.set(
      id,
      build({ id, state: 'running', phase: 'upload', progress: 0.95 })
    );
    await model.pollBuilds();
    expect(model.state.build?.phase).toBe('upload');
    expect(model.pexView).toBe('building');

    client.env = environment({ pex: pex('up-to-date') });
    client.builds.set(
      id,
      build({ id, state: 'succeeded', phase: 'upload', progress: 1 })
    );
    await model.pollBuilds();
    await flush();
    expect(finished.map(b => b.state)).toEqual(['succeeded']);
    expect(model.pexView).toBe('up-to-date');
    expect(model.isBuilding).toBe(false);
    expect(client.calls).toContain('artifacts');
  });

  it('shows a request answered by an earlier job as already built, not as its result', async () => {
    const { client, model, finished } = setup();
    await model.setKernel({ id: KERNEL });
    const already: IBuild[] = [];
    model.alreadyBuilt.connect((_, b) => already.push(b));
    const old = build({ id: 'old', state: 'succeeded', progress: 1 });
    client.nextBuild = { ...old, created: false };
    const answer = await model.startBuild();
    expect(answer?.id).toBe('old');
    expect(already.map(b => b.id)).toEqual(['old']);
    expect(model.isBuilding).toBe(false);
    // A poll brings the job's record (without `created`): still not this request's result.
    client.builds.set('old', old);
    await model.pollBuilds();
    await flush();
    expect(model.state.build?.id).toBe('old');
    expect(model.state.build?.created).toBe(false);
    expect(finished).toHaveLength(0);
  });

  it('shows a stale environment with its difference', async () => {
    const { client, model } = setup();
    client.env = environment({
      pex: pex('stale', {
        added: [{ name: 'tabulate', version: '0.9.0' }],
        changed: [{ name: 'numpy', old: '2.0.0', new: '2.1.0' }]
      })
    });
    await model.setKernel({ id: KERNEL });
    expect(model.pexView).toBe('stale');
    expect(model.state.environment?.pex?.added[0].name).toBe('tabulate');
  });

  it('reports a failed build once and returns to the server state', async () => {
    const { client, model, finished } = setup();
    await model.setKernel({ id: KERNEL });
    const started = await model.startBuild();
    client.builds.set(
      started!.id,
      build({
        id: started!.id,
        state: 'failed',
        error: 'pex exited with 1: no space left'
      })
    );
    await model.pollBuilds();
    await model.pollBuilds();
    await flush();
    expect(finished).toHaveLength(1);
    expect(finished[0].error).toBe('pex exited with 1: no space left');
    expect(model.state.build?.state).toBe('failed');
    expect(model.pexView).toBe('missing');
  });

  it('shows why a build could not start', async () => {
    const { client, model } = setup();
    await model.setKernel({ id: KERNEL });
    client.nextBuild = new PexlabAPIError('options.exclude: bad name', 400);
    expect(await model.startBuild()).toBeNull();
    expect(model.state.buildError).toBe('options.exclude: bad name');
    expect(model.isBuilding).toBe(false);
  });

  it('cancels a running build', async () => {
    const { client, model, finished } = setup();
    await model.setKernel({ id: KERNEL });
    const started = await model.startBuild();
    await model.cancelBuild();
    await flush();
    expect(client.calls).toContain(`cancel ${started!.id}`);
    expect(model.state.build?.state).toBe('cancelled');
    expect(model.isBuilding).toBe(false);
    expect(finished.map(b => b.state)).toEqual(['cancelled']);
  });

  it('picks up a build of this kernel started elsewhere', async () => {
    const { client, model } = setup();
    await model.setKernel({ id: KERNEL });
    expect(model.state.build).toBeNull();
    const elsewhere = build({
      id: 'b'.repeat(32),
      state: 'running',
      progress: 0.2
    });
    client.builds.set(elsewhere.id, elsewhere);
    client.builds.set(
      'c'.repeat(32),
      build({
        id: 'c'.repeat(32),
        kernel_id: OTHER_KERNEL,
        python: '/other/python'
      })
    );
    await model.pollBuilds();
    expect(model.state.build?.id).toBe(elsewhere.id);
    expect(model.pexView).toBe('building');
  });

  it('applies build events from the server event bus', async () => {
    const { client, model } = setup();
    await model.setKernel({ id: KERNEL });
    const started = await model.startBuild();
    model.handleBuildEvent({
      id: started!.id,
      state: 'running',
      phase: 'zip',
      progress: 0.85
    });
    expect(model.state.build?.phase).toBe('zip');
    expect(model.state.build?.progress).toBe(0.85);
    // Events for other jobs do not touch this one.
    model.handleBuildEvent({
      id: 'd'.repeat(32),
      kernel_id: OTHER_KERNEL,
      state: 'failed'
    });
    expect(model.state.build?.id).toBe(started!.id);
    // A final event is followed by a fetch of the whole job (artifacts, log).
    const done = build({
      id: started!.id,
      state: 'succeeded',
      progress: 1,
      log: ['done'],
      artifacts: buildArtifacts()
    });
    client.builds.set(started!.id, done);
    model.handleBuildEvent({
      id: started!.id,
      state: 'succeeded',
      progress: 1
    });
    await flush();
    expect(model.state.build?.artifacts?.pex.name).toBe('env.pex');
    expect(model.state.build?.log).toEqual(['done']);
  });

  it("announces a failure from an event with the job's own error", async () => {
    const { client, model, finished } = setup();
    await model.setKernel({ id: KERNEL });
    const started = await model.startBuild();
    client.builds.set(
      started!.id,
      build({
        id: started!.id,
        state: 'failed',
        error: "Cannot reach 'file:///x': not a directory",
        log: ['[upload] uploading env.pex']
      })
    );
    // The event bus says "failed" with no error: the model fetches the job before saying so.
    model.handleBuildEvent({ id: started!.id, state: 'failed' });
    await flush();
    expect(finished).toHaveLength(1);
    expect(finished[0].error).toBe("Cannot reach 'file:///x': not a directory");
  });

  it("sends only the user's choices, in builds and environment queries", async () => {
    const { client, model } = setup();
    await model.setKernel({ id: KERNEL });
    model.setSettings({
      ...DEFAULT_SETTINGS,
      storage: 's3://bucket/p',
      excludedPackages: ['torch'],
      includeEditable: false
    });
    await flush();
    const choices = {
      exclude_extra: ['torch'],
      include_editable: false,
      layout: 'zipapp'
    };
    // The PEX state is for exactly these choices: the environment was re-read with them.
    expect(client.lastQuery).toEqual({
      options: choices,
      storage: 's3://bucket/p',
      master: ''
    });
    await model.startBuild();
    expect(client.calls).toContain(
      `start ${JSON.stringify({ kernel_id: KERNEL, options: choices, storage: 's3://bucket/p' })}`
    );
    // Settings that change nothing the server sees do not re-read the environment.
    const reads = client.calls.filter(c => c.startsWith('env')).length;
    model.setSettings({
      ...model.state.settings,
      appName: 'another name'
    });
    await flush();
    expect(client.calls.filter(c => c.startsWith('env')).length).toBe(reads);
    expect(model.plan.appName).toBe('another name');
  });

  it('turns stale after a pip install elsewhere, from the stamp alone', async () => {
    const { client, model } = setup();
    client.env = environment({ pex: pex('up-to-date') });
    await model.setKernel({ id: KERNEL });
    await model.checkForChanges();
    expect(model.pexView).toBe('up-to-date');
    const reads = client.calls.filter(c => c.startsWith('env')).length;
    // Nothing changed: no environment query (the stamp is the cheap part).
    await model.checkForChanges();
    expect(client.calls.filter(c => c.startsWith('env')).length).toBe(reads);
    // A terminal `pip install` touches the site folders.
    client.stamp = stampOf('2');
    client.env = environment({
      pex: pex('stale', { added: [{ name: 'iniconfig', version: '2.0.0' }] })
    });
    await model.checkForChanges();
    expect(model.pexView).toBe('stale');
    expect(model.state.environment?.pex?.added[0].name).toBe('iniconfig');
  });

  it('lets the background checks fail, so that their poll backs off', async () => {
    const { client, model } = setup();
    await model.setKernel({ id: KERNEL });
    client.stamp = new PexlabAPIError('Cannot reach the Jupyter server', 0);
    await expect(model.checkForChanges()).rejects.toThrow('Cannot reach');
    client.artifacts = new PexlabAPIError('Cannot reach the Jupyter server', 0);
    await expect(model.checkForChanges()).rejects.toThrow('Cannot reach');
    expect(model.state.artifactsError).toBe('Cannot reach the Jupyter server');
    // The panel's own calls keep the failure in the state instead.
    await expect(model.refreshArtifacts()).resolves.toBeUndefined();
  });

  it('follows a PEX built by the kernel: new artifact, new state', async () => {
    const { client, model } = setup();
    await model.setKernel({ id: KERNEL });
    await model.refreshArtifacts();
    expect(model.pexView).toBe('missing');
    // The kernel ran the setup cell: the cache has a new PEX for this interpreter.
    client.artifacts = [artifactRecord()];
    client.env = environment({ pex: pex('up-to-date') });
    await model.checkForChanges();
    await flush();
    expect(model.state.artifacts).toHaveLength(1);
    expect(model.pexView).toBe('up-to-date');
    expect(model.currentFingerprint).toBe('f'.repeat(64));
  });

  it('clears a failure once a newer PEX makes it history', async () => {
    const { client, model } = setup();
    await model.setKernel({ id: KERNEL });
    const started = await model.startBuild();
    const failedAt = Date.now() / 1000 - 60;
    client.builds.set(
      started!.id,
      build({
        id: started!.id,
        state: 'failed',
        error: 'upload failed',
        finished_at: new Date(failedAt * 1000).toISOString()
      })
    );
    await model.pollBuilds();
    await flush();
    expect(model.state.build?.state).toBe('failed');
    // An older PEX does not excuse the failure.
    client.env = environment({
      pex: pex('up-to-date', { built_at: failedAt - 100 })
    });
    await model.refresh();
    expect(model.state.build?.state).toBe('failed');
    // A PEX built after it (from the kernel, the CLI): the failure is gone, for good.
    client.env = environment({
      pex: pex('up-to-date', { built_at: failedAt + 30 })
    });
    await model.refresh();
    expect(model.state.build).toBeNull();
    await model.pollBuilds();
    expect(model.state.build).toBeNull();
  });

  it('clears a refusal to start when the settings it described change', async () => {
    const { client, model } = setup();
    await model.setKernel({ id: KERNEL });
    client.nextBuild = new PexlabAPIError(
      "Storage 'http://x' is not allowed.",
      422
    );
    model.setSettings({ ...DEFAULT_SETTINGS, storage: 'http://x' });
    await model.startBuild();
    expect(model.state.buildError).toContain('not allowed');
    model.setSettings({ ...DEFAULT_SETTINGS, storage: 's3://ok' });
    expect(model.state.buildError).toBeNull();
  });

  it('keeps the log open state and closes it for another build', async () => {
    const { client, model } = setup();
    const started: IBuild[] = [];
    model.buildStarted.connect((_, b) => started.push(b));
    await model.setKernel({ id: KERNEL });
    const first = await model.startBuild();
    expect(started.map(b => b.id)).toEqual([first!.id]);
    model.setLogOpen(true);
    expect(model.state.logOpen).toBe(true);
    client.builds.set(first!.id, build({ id: first!.id, state: 'failed' }));
    await model.pollBuilds();
    expect(model.state.logOpen).toBe(true);
    client.nextBuild = build({ id: 'b'.repeat(32), state: 'queued' });
    await model.startBuild();
    expect(model.state.logOpen).toBe(false);
    expect(started).toHaveLength(2);
  });

  it('forgets the old kernel and ignores its late answers', async () => {
    const { client, model } = setup();
    let release: () => void = () => undefined;
    const slow = new Promise<void>(r => (release = r));
    const original = client.getEnvironment.bind(client);
    client.getEnvironment = async (id: string) => {
      if (id === KERNEL) {
        await slow;
        return { ...(await original(id)), python: '/old/python' };
      }
      return original(id);
    };
    const first = model.setKernel({ id: KERNEL });
    const second = model.setKernel({ id: OTHER_KERNEL });
    await second;
    release();
    await first;
    expect(model.state.kernel?.id).toBe(OTHER_KERNEL);
    expect(model.state.environment?.python).toBe('/venv/bin/python');
    await model.setKernel(null);
    expect(model.state.status).toBe('no-kernel');
    expect(model.state.environment).toBeNull();
  });
});
