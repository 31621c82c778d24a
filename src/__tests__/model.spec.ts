import { PexlabAPIError } from '../api';
import { SparkEnvironmentModel } from '../model';
import type { IBuild } from '../tokens';
import {
  FakeClient,
  KERNEL,
  OTHER_KERNEL,
  build,
  environment,
  flush,
  pex
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

    const started = await model.startBuild({
      options: { include_editable: true }
    });
    expect(started?.state).toBe('queued');
    expect(client.calls).toContain(
      `start ${JSON.stringify({ kernel_id: KERNEL, options: { include_editable: true } })}`
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
      artifacts: {
        fingerprint: 'f'.repeat(64),
        pex: {
          kind: 'pex',
          name: 'env.pex',
          local_path: '/c/env.pex',
          size: 1
        },
        editables: []
      }
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
