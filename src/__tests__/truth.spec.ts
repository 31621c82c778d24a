import { nullTranslator } from '@jupyterlab/translation';

import { DEFAULT_SETTINGS, setupPlan } from '../cells';
import { settingsRefusal } from '../commands';
import { isJobFor, SparkEnvironmentModel } from '../model';
import {
  FakeClient,
  KERNEL,
  build,
  dist,
  environment,
  flush,
  resolved
} from './fakes';

const trans = nullTranslator.load('pexlab');

function setup() {
  const client = new FakeClient();
  const model = new SparkEnvironmentModel({ client });
  return { client, model };
}

const FP_A = 'a'.repeat(64);
const FP_B = 'b'.repeat(64);

describe('a build shows only its own job', () => {
  it('does not show a failure of other artifacts from the build list', async () => {
    const { client, model } = setup();
    client.env = environment({ build: resolved({ fingerprint: FP_B }) });
    // A failure for fingerprint A (other options / another environment), same kernel.
    const old = build({
      id: '1'.repeat(32),
      fingerprint: FP_A,
      state: 'failed',
      error: 'boom',
      finished_at: new Date().toISOString()
    });
    client.builds.set(old.id, old);
    await model.setKernel({ id: KERNEL });
    await flush();
    expect(model.state.build).toBeNull();
  });

  it("shows the server's job for exactly these artifacts, and drops it when the environment changes", async () => {
    const { client, model } = setup();
    const failed = build({
      id: '2'.repeat(32),
      fingerprint: FP_A,
      state: 'failed',
      error: 'Cannot create storage folder',
      finished_at: new Date().toISOString()
    });
    client.env = environment({
      build: resolved({ fingerprint: FP_A, job: failed })
    });
    await model.setKernel({ id: KERNEL });
    await flush();
    expect(model.state.build?.id).toBe(failed.id);

    // A pip install (or a kernel restart with another environment): fingerprint B.
    client.env = environment({ build: resolved({ fingerprint: FP_B }) });
    await model.refresh();
    expect(model.state.build).toBeNull();
  });

  it("clears an old job's Done as soon as the options change", async () => {
    const { client, model } = setup();
    const done = build({
      id: '3'.repeat(32),
      fingerprint: FP_A,
      state: 'succeeded',
      finished_at: new Date().toISOString()
    });
    client.env = environment({
      build: resolved({ fingerprint: FP_A, job: done })
    });
    await model.setKernel({ id: KERNEL });
    expect(model.state.build?.id).toBe(done.id);
    client.env = environment({ build: resolved({ fingerprint: FP_B }) });
    model.setSettings({
      ...DEFAULT_SETTINGS,
      excludedPackages: ['pandas']
    });
    expect(model.state.build).toBeNull(); // at once, not after the refresh
    await flush();
    expect(model.state.build).toBeNull();
  });

  it('a job for other editable code is not this one', () => {
    const env = environment({
      distributions: [
        { ...dist('demo', '0.1', '/src/demo'), zip: 'demo-222222222222.zip' }
      ],
      build: resolved({ fingerprint: FP_A })
    });
    const job = build({
      fingerprint: FP_A,
      editables: ['demo-111111111111.zip']
    });
    expect(isJobFor(job, env)).toBe(false);
    expect(
      isJobFor({ ...job, editables: ['demo-222222222222.zip'] }, env)
    ).toBe(true);
    expect(isJobFor({ ...job, editables: [], fingerprint: FP_B }, env)).toBe(
      false
    );
    expect(
      isJobFor(
        { ...job, editables: ['demo-222222222222.zip'], storage: '/elsewhere' },
        env
      )
    ).toBe(false);
  });
});

describe('settings the server refused', () => {
  it('takes the master kind from the server and never inserts silently', () => {
    const env = environment({
      build: resolved({
        master: 'sprak://x:7077',
        master_kind: null,
        storage: 'ftp://host/dir',
        errors: {
          master:
            "'sprak://x:7077' is not a Spark master URL. Did you mean spark://x:7077?",
          storage: "Storage 'ftp://host/dir' is not allowed on this server"
        }
      })
    });
    const plan = setupPlan(
      {
        ...DEFAULT_SETTINGS,
        master: 'sprak://x:7077',
        storage: 'ftp://host/dir'
      },
      env
    );
    expect(plan.kind).toBeNull();
    expect(plan.storage).toBe('ftp://host/dir'); // the refused value is not dropped
    const refusal = settingsRefusal(plan, trans);
    expect(refusal).toContain('not inserted');
    expect(refusal).toContain('ftp://host/dir');
    expect(refusal).toContain('Did you mean spark://x:7077');

    const ok = setupPlan(
      DEFAULT_SETTINGS,
      environment({
        build: resolved({ master: 'spark://h:7077', master_kind: 'standalone' })
      })
    );
    expect(ok.kind).toBe('cluster');
    expect(settingsRefusal(ok, trans)).toBeNull();
  });

  it('sends the master setting with the environment query', async () => {
    const { client, model } = setup();
    await model.setKernel({ id: KERNEL });
    model.setSettings({ ...DEFAULT_SETTINGS, master: 'yarn' });
    await flush();
    expect(client.lastQuery?.master).toBe('yarn');
  });
});

describe('editable zips in the artifact list', () => {
  it("asks for the followed kernel's marks and keeps them", async () => {
    const { client, model } = setup();
    client.editableZips = [
      {
        name: 'demo-111111111111.zip',
        path: '/c/editables/demo-111111111111.zip',
        project: 'demo',
        size: 10,
        modified_at: 1,
        current: false,
        stale: true
      }
    ];
    await model.setKernel({ id: KERNEL });
    await model.refreshArtifacts();
    expect(client.lastArtifactsKernel).toBe(KERNEL);
    expect(model.state.editableZips.map(z => [z.name, z.stale])).toEqual([
      ['demo-111111111111.zip', true]
    ]);
  });
});
