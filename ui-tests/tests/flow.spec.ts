/**
 * The user's path through the panel against a real Jupyter server, the demo kernel's venv,
 * real PEX builds and a local Spark standalone cluster (started here unless
 * PEXLAB_SPARK_MASTER names one; `local[2]` is accepted too).
 *
 * Serial: the steps share the server's pexlab cache (build -> up to date -> stale -> cells).
 */
import { expect, test } from '@jupyterlab/galata';
import { ChildProcess, execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as readline from 'readline';

import {
  DEMO_PYTHON,
  NOTEBOOK,
  NOTEBOOK_SOURCE,
  SCREENSHOTS,
  environmentOf,
  kernelIdOf,
  openDemoNotebook,
  openPanel,
  setSettings,
  setupCellIndex,
  toastTexts,
  waitForIdleKernel
} from './helpers';

/** A small PyPI package the demo venv does not have, installed to make the PEX stale. */
const EXTRA_PACKAGE = process.env.PEXLAB_STALE_PACKAGE || 'iniconfig';
/** Left out of the panel's builds below, so they differ from the kernel's build. */
const EXCLUDED = 'pex';

test.describe.configure({ mode: 'serial' });
test.use({ autoGoto: true, viewport: { width: 1280, height: 800 } });

function pip(...args: string[]): void {
  execFileSync(
    DEMO_PYTHON,
    ['-m', 'pip', '--disable-pip-version-check', '-q', ...args],
    {
      stdio: 'inherit'
    }
  );
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

let cluster: ChildProcess | null = null;

async function sparkMaster(): Promise<string> {
  if (process.env.PEXLAB_SPARK_MASTER) {
    return process.env.PEXLAB_SPARK_MASTER;
  }
  const python = process.env.PEXLAB_CLUSTER_PYTHON || 'python';
  cluster = spawn(
    python,
    ['-m', 'pexlab.local.standalone', '--workers', '1', '--cores', '2'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: process.env
    }
  );
  const lines = readline.createInterface({ input: cluster.stdout! });
  return new Promise<string>((resolve, reject) => {
    cluster!.once('exit', code =>
      reject(new Error(`local cluster exited with ${code}`))
    );
    lines.once('line', line => resolve(line.trim()));
  });
}

test.afterAll(async () => {
  if (cluster && cluster.exitCode === null) {
    const exited = new Promise(r => cluster!.once('exit', r));
    cluster.kill('SIGTERM'); // the cluster stops its daemons on SIGTERM
    await exited;
  }
});

test('a build started elsewhere shows up, and Cancel stops it', async ({
  page,
  tmpPath
}) => {
  // Start from an empty cache: an earlier spec (the demo's Run All) built this kernel's PEX.
  const base = page.url().split('/lab')[0];
  const listed = await (
    await page.request.get(`${base}/pexlab/artifacts`)
  ).json();
  for (const artifact of listed.artifacts ?? []) {
    const removed = await page.request.delete(
      `${base}/pexlab/artifacts/${artifact.fingerprint}`
    );
    expect(removed.status()).toBe(204);
  }
  const notebook = await openDemoNotebook(page, tmpPath);
  const panel = await openPanel(page);
  const badge = panel.locator('.pexlab-StateBadge');
  await expect(badge).toHaveAttribute('data-state', 'missing');

  // Another client (a second tab, a script) starts the build through the REST API.
  const sessions = await (
    await page.request.get(`${base}/api/sessions`)
  ).json();
  const kernelId = sessions.find((s: any) => s.path === notebook).kernel.id;
  const started = await page.request.post(`${base}/pexlab/builds`, {
    data: { kernel_id: kernelId }
  });
  expect(started.status()).toBe(202);

  await expect(badge).toHaveAttribute('data-state', 'building');
  await expect(
    panel.getByRole('button', { name: 'Build & upload' })
  ).toBeDisabled();
  await panel.getByRole('button', { name: 'Cancel' }).click();
  await expect(panel.locator('.pexlab-Build-status')).toHaveAttribute(
    'data-build-state',
    'cancelled',
    { timeout: 60000 }
  );
  // Nothing half-built counts as a PEX, and a new build can start.
  await expect(badge).toHaveAttribute('data-state', 'missing');
  await expect(
    panel.getByRole('button', { name: 'Build & upload' })
  ).toBeEnabled();
});

test('a PEX built by the kernel shows up without a click, marked current', async ({
  page,
  tmpPath
}) => {
  const notebook = await openDemoNotebook(page, tmpPath);
  const panel = await openPanel(page);
  const badge = panel.locator('.pexlab-StateBadge');
  await expect(badge).toHaveAttribute('data-state', 'missing');

  // What the server resolves for the panel's (default) choices: the kernel builds exactly that.
  const kernelId = await kernelIdOf(page, notebook);
  const env = await environmentOf(page, kernelId);
  const code = [
    'import json',
    'from pexlab.package import package_environment',
    'from pexlab.build.pex import BuildOptions',
    `_options = BuildOptions.from_json(json.loads(${JSON.stringify(JSON.stringify(env.build.options))}))`,
    'print("built", package_environment(options=_options).fingerprint)'
  ].join('\n');
  // Run in the kernel, as a user's cell (or the setup cell) would; the panel is not touched.
  await page.evaluate(code => {
    const widget = window.jupyterapp.shell.currentWidget as any;
    widget.sessionContext.session.kernel.requestExecute({ code });
  }, code);

  await expect(badge).toHaveAttribute('data-state', 'up-to-date', {
    timeout: 200000
  });
  const current = panel.locator(
    '.pexlab-Artifact[data-kind="cached"][data-current="true"]'
  );
  await expect(current).toHaveCount(1);
  await expect(current).toHaveAttribute(
    'data-fingerprint',
    env.build.fingerprint
  );
  await expect(current.locator('.pexlab-Badge-current')).toHaveText('current');
  // The editable zip the kernel made is listed too, current against the live project.
  const zips = panel.locator('.pexlab-Artifact[data-kind="editable-zip"]');
  await expect(
    zips.filter({ hasText: 'pexlab_demo_project-' })
  ).not.toHaveCount(0);
  await expect(
    panel.locator(
      '.pexlab-Artifact[data-kind="editable-zip"][data-current="true"]'
    )
  ).toHaveCount(1);
  await page.screenshot({
    path: path.join(SCREENSHOTS, 'panel-kernel-build.png')
  });

  // An edit of the editable project: the kernel's next build makes a new zip, which the list
  // marks current, and the pre-edit zip stale. The edit is undone afterwards.
  const project = env.distributions.find((d: any) => d.editable)?.project_dir;
  expect(project, 'the demo venv has an editable project').toBeTruthy();
  const edited = path.join(project, 'src', 'pexlab_demo', '__init__.py');
  const original = fs.readFileSync(edited, 'utf-8');
  const currentZip = panel.locator(
    '.pexlab-Artifact[data-kind="editable-zip"][data-current="true"]'
  );
  const oldZip = (await currentZip
    .locator('.pexlab-Artifact-name')
    .textContent())!;
  try {
    fs.writeFileSync(edited, `${original}\n# edited by the Galata flow spec\n`);
    await page.evaluate(code => {
      const widget = window.jupyterapp.shell.currentWidget as any;
      widget.sessionContext.session.kernel.requestExecute({ code });
    }, code);
    await expect(currentZip.locator('.pexlab-Artifact-name')).not.toHaveText(
      oldZip,
      { timeout: 120000 }
    );
    await expect(currentZip).toHaveCount(1);
    await expect(currentZip.locator('.pexlab-Artifact-name')).toContainText(
      'pexlab_demo_project-'
    );
    const stale = panel.locator(
      '.pexlab-Artifact[data-kind="editable-zip"][data-stale="true"]'
    );
    await expect(stale.filter({ hasText: oldZip })).toHaveCount(1);
    await expect(
      stale.filter({ hasText: oldZip }).locator('.pexlab-Badge-stale')
    ).toBeVisible();
    // The PEX is not rebuilt for an edit: still the one current PEX.
    await expect(current).toHaveAttribute(
      'data-fingerprint',
      env.build.fingerprint
    );
  } finally {
    fs.writeFileSync(edited, original);
  }
  // Undone: the pre-edit zip is current again.
  await expect(currentZip.filter({ hasText: oldZip })).toHaveCount(1, {
    timeout: 60000
  });
});

test('build from the panel: progress, then up to date', async ({
  page,
  tmpPath
}) => {
  // Other choices than the kernel's build above: a PEX that does not exist yet.
  await setSettings(page, { excludedPackages: [EXCLUDED] });
  await openDemoNotebook(page, tmpPath);
  const panel = await openPanel(page);
  const badge = panel.locator('.pexlab-StateBadge');
  // No PEX for these choices (the server may call it stale: other options than the last).
  await expect(badge).toHaveAttribute('data-state', /^(missing|stale)$/);

  const buildButton = panel.getByRole('button', { name: 'Build & upload' });
  await buildButton.click();
  // While it runs: disabled button, phase, progress bar, Cancel.
  await expect(badge).toHaveAttribute('data-state', 'building');
  await expect(buildButton).toBeDisabled();
  await expect(panel.getByRole('progressbar')).toBeVisible();
  await expect(panel.getByRole('button', { name: 'Cancel' })).toBeVisible();
  // Screenshot in the middle of the PEX build (or later, if the build was very fast).
  await expect
    .poll(
      async () =>
        (await badge.getAttribute('data-state')) !== 'building' ||
        (await panel.locator('.pexlab-Build-phase').textContent()) ===
          'Building the PEX'
    )
    .toBe(true);
  await page.screenshot({ path: path.join(SCREENSHOTS, 'panel-building.png') });

  await expect(badge).toHaveAttribute('data-state', 'up-to-date', {
    timeout: 200000
  });
  await expect(panel.locator('.pexlab-Build-status')).toHaveAttribute(
    'data-build-state',
    'succeeded'
  );
  await expect(panel.getByRole('progressbar')).toHaveAttribute(
    'aria-valuenow',
    '100'
  );
  await expect(buildButton).toBeEnabled();
  // The artifacts: the PEX (uploaded to the test storage) and the editable zip.
  const artifacts = panel.locator('.pexlab-Artifacts');
  await expect(artifacts.locator('[data-kind="pex"]')).toHaveCount(1);
  await expect(artifacts.locator('[data-kind="editable"]')).toHaveCount(1);
  await expect(
    artifacts.getByRole('button', { name: /^Copy / }).first()
  ).toBeVisible();
  await expect
    .poll(async () => (await page.notifications).map(n => n.message))
    .toContainEqual('Spark environment built: the PEX is up to date.');
  await page.screenshot({
    path: path.join(SCREENSHOTS, 'panel-up-to-date.png')
  });
});

test('a failed build says why in a toast with the log, and the error clears once fixed', async ({
  page,
  tmpPath
}) => {
  // Storage under a regular file: the server accepts the URL, the upload cannot succeed.
  const blocker = path.join(
    fs.mkdtempSync(path.join(os.tmpdir(), 'pexlab-galata-')),
    'not-a-folder'
  );
  fs.writeFileSync(blocker, 'a file, not a folder');
  await setSettings(page, {
    excludedPackages: [EXCLUDED],
    storage: `file://${blocker}/pexlab`
  });
  await openDemoNotebook(page, tmpPath);
  const panel = await openPanel(page);
  const buildButton = panel.getByRole('button', { name: 'Build & upload' });
  await buildButton.click();

  const status = panel.locator('.pexlab-Build-status');
  await expect(status).toHaveAttribute('data-build-state', 'failed', {
    timeout: 200000
  });
  // The panel and the toast carry the server's message, which names the storage.
  const failure = panel.locator('.pexlab-Build-failure');
  await expect(failure).toContainText(`file://${blocker}/pexlab`);
  await expect
    .poll(() => toastTexts(page))
    .toContainEqual(
      expect.stringMatching(
        new RegExp(
          `^Spark environment build failed: .*${escapeRegExp(`file://${blocker}/pexlab`)}`
        )
      )
    );
  await page.screenshot({ path: path.join(SCREENSHOTS, 'build-failed.png') });

  // The toast's "Show log" opens the log in the panel.
  const toast = page.locator('.Toastify__toast', {
    hasText: 'Spark environment build failed'
  });
  await toast.getByRole('button', { name: 'Show log' }).click();
  await expect(panel.locator('.pexlab-Log-tail')).toBeVisible();

  // Another notebook on the same interpreter (its own kernel), same options: the panel
  // follows it and shows the same failure, as it belongs to that environment and options.
  const notebookA = await page.evaluate(
    () => (window.jupyterapp.shell.currentWidget as any).sessionContext.path
  );
  const other = `${tmpPath}/other.ipynb`;
  await page.contents.uploadFile(NOTEBOOK_SOURCE, other);
  await page.notebook.openByPath(other);
  await page.notebook.activate('other.ipynb');
  await waitForIdleKernel(page);
  const kernelA = await kernelIdOf(page, notebookA);
  const kernelB = await kernelIdOf(page, other);
  expect(kernelB).not.toBe(kernelA);
  await expect(panel.locator('.pexlab-Header-notebook')).toHaveText(
    'other.ipynb',
    { timeout: 30000 }
  );
  await expect(status).toHaveAttribute('data-build-state', 'failed', {
    timeout: 30000
  });
  await expect(failure).toContainText(`file://${blocker}/pexlab`);
  const failedJob = (await status.getAttribute('data-build-id'))!;

  // Fixed (a storage that takes uploads): the failure goes away on this notebook and on the
  // first one, without a reload, as it belonged to the options it failed for. A storage no
  // earlier test used: the server answers a request for artifacts a finished job already
  // made with that job (created: false), so only a new artifact proves the panel shows the
  // new job and never an earlier one.
  const fixed = `file://${fs.mkdtempSync(path.join(os.tmpdir(), 'pexlab-galata-fixed-'))}/pexlab`;
  await setSettings(page, { excludedPackages: [EXCLUDED], storage: fixed });
  await expect(failure).toHaveCount(0, { timeout: 30000 });
  await expect(
    panel.locator('.pexlab-Build-status[data-build-state="failed"]')
  ).toHaveCount(0);
  await page.notebook.activate(NOTEBOOK);
  await expect(panel.locator('.pexlab-Header-notebook')).toHaveText(NOTEBOOK, {
    timeout: 30000
  });
  await expect(panel.locator('.pexlab-Panel')).toHaveAttribute(
    'data-status',
    'ready',
    { timeout: 60000 }
  );
  // A build poll has run for notebook A (its environment loaded, then its builds listed).
  await page.evaluate(async () => {
    const model = (await window.galata.getPlugin('pexlab:plugin')) as any;
    await model.pollBuilds();
  });
  await expect(failure).toHaveCount(0);
  await expect(
    panel.locator(`.pexlab-Build-status[data-build-id="${failedJob}"]`)
  ).toHaveCount(0);
  await page.notebook.activate('other.ipynb');
  await expect(panel.locator('.pexlab-Header-notebook')).toHaveText(
    'other.ipynb',
    { timeout: 30000 }
  );
  await page.evaluate(async () => {
    const model = (await window.galata.getPlugin('pexlab:plugin')) as any;
    await model.pollBuilds();
  });
  await expect(failure).toHaveCount(0);
  await expect(
    panel.locator(`.pexlab-Build-status[data-build-id="${failedJob}"]`)
  ).toHaveCount(0);

  // Built again: from the click on, every (job, state) the panel shows is recorded, and no
  // finished job but the one the click started (the POST's answer) is ever shown.
  await page.evaluate(() => {
    const seen: string[] = [];
    (window as any).__pexlabShown = seen;
    const root = document.querySelector('#pexlab-spark-environment')!;
    const record = () => {
      const el = root.querySelector('.pexlab-Build-status');
      const entry = el
        ? `${el.getAttribute('data-build-id')} ${el.getAttribute('data-build-state')}`
        : 'none';
      if (seen[seen.length - 1] !== entry) {
        seen.push(entry);
      }
    };
    record();
    // Held from window: the observer must live as long as the test looks.
    const observer = new MutationObserver(record);
    (window as any).__pexlabObserver = observer;
    observer.observe(root, {
      subtree: true,
      childList: true,
      attributes: true,
      attributeFilter: ['data-build-id', 'data-build-state']
    });
  });
  const posted = page.waitForResponse(
    // The client adds a cache-busting query: match the path only.
    r =>
      new URL(r.url()).pathname.endsWith('/pexlab/builds') &&
      r.request().method() === 'POST'
  );
  // What was on screen before the click (e.g. an earlier job as history) is not checked.
  await page.evaluate(() => {
    (window as any).__pexlabClicked = (window as any).__pexlabShown.length - 1;
  });
  await buildButton.click();
  const answer = await (await posted).json();
  const newJob = answer.id as string;
  expect(newJob).toBeTruthy();
  expect(answer.created, 'the click started a new job').toBe(true);
  expect(newJob).not.toBe(failedJob);
  await expect(status).toHaveAttribute('data-build-state', 'succeeded', {
    timeout: 200000
  });
  await expect(status).toHaveAttribute('data-build-id', newJob);
  await expect(panel.locator('.pexlab-StateBadge')).toHaveAttribute(
    'data-state',
    'up-to-date'
  );
  await expect(panel.locator('.pexlab-Error')).toHaveCount(0);
  await expect(panel.locator('[role="alert"]')).toHaveCount(0);
  await expect
    .poll(() => toastTexts(page))
    .not.toContainEqual(
      expect.stringContaining('Spark environment build failed')
    );
  await expect
    .poll(() => toastTexts(page))
    .toContainEqual('Spark environment built: the PEX is up to date.');
  const record: { all: string[]; clicked: number } = await page.evaluate(
    () => ({
      all: (window as any).__pexlabShown,
      clicked: (window as any).__pexlabClicked
    })
  );
  const shown = record.all.slice(record.clicked + 1);
  expect(shown, JSON.stringify(record)).toContain(`${newJob} succeeded`);
  for (const entry of shown) {
    const [id, state] = entry.split(' ');
    if (['succeeded', 'failed', 'cancelled'].includes(state)) {
      expect(id, `the panel showed ${entry} after the click`).toBe(newJob);
    }
  }
  // The next tests build for the server's default storage, as before this one.
  await setSettings(page, { excludedPackages: [EXCLUDED], storage: '' });
});

test('a pip install from a terminal turns the panel stale without a click', async ({
  page,
  tmpPath
}) => {
  await openDemoNotebook(page, tmpPath);
  const panel = await openPanel(page);
  const badge = panel.locator('.pexlab-StateBadge');
  await expect(badge).toHaveAttribute('data-state', 'up-to-date');
  // From outside JupyterLab (a terminal): no kernel activity, no click in the panel.
  pip('install', '--no-deps', EXTRA_PACKAGE);
  try {
    await expect(badge).toHaveAttribute('data-state', 'stale', {
      timeout: 30000
    });
    await expect(panel.locator('.pexlab-Diff-added')).toContainText(
      `added ${EXTRA_PACKAGE}`
    );
    await page.screenshot({ path: path.join(SCREENSHOTS, 'panel-stale.png') });
  } finally {
    pip('uninstall', '-y', EXTRA_PACKAGE);
  }
  // And back, again without a click.
  await expect(badge).toHaveAttribute('data-state', 'up-to-date', {
    timeout: 30000
  });
});

test('toolbar button inserts setup cells that run a Spark job', async ({
  page,
  tmpPath
}) => {
  const master = await sparkMaster();
  // Settings through JupyterLab's setting registry, as the settings editor would.
  await page.evaluate(
    async ({ master }) => {
      const registry = (await window.galata.getPlugin(
        '@jupyterlab/apputils-extension:settings'
      )) as any;
      await registry.set('pexlab:plugin', 'master', master);
      await registry.set('pexlab:plugin', 'appName', 'pexlab-galata');
      await registry.set('pexlab:plugin', 'sparkConf', {
        'spark.ui.enabled': false
      });
    },
    { master }
  );

  await openDemoNotebook(page, tmpPath);
  const cellsBefore = await page.notebook.getCellCount();
  const button = page.locator(
    '.jp-NotebookPanel-toolbar [data-command="pexlab:insert-setup-cells"]'
  );
  await expect(button).toBeVisible();

  // Insert, then one undo removes the whole insertion.
  await button.click();
  await expect.poll(() => page.notebook.getCellCount()).toBe(cellsBefore + 2);
  await page.evaluate(async () => {
    await window.jupyterapp.commands.execute('notebook:undo-cell-action');
  });
  await expect.poll(() => page.notebook.getCellCount()).toBe(cellsBefore);

  // Insert again, and a second click updates instead of duplicating.
  await button.click();
  await button.click();
  await expect.poll(() => page.notebook.getCellCount()).toBe(cellsBefore + 2);
  // After the notebook's own title (the default position), not above it.
  const at = await setupCellIndex(page);
  expect(at).toBe(
    (await page.notebook.getCellTextInput(0))?.startsWith('# ') ? 1 : 0
  );
  expect(await page.notebook.getCellType(at)).toBe('markdown');
  // A cluster master: the words say the PEX is shipped.
  const words = (await page.notebook.getCellTextInput(at)) ?? '';
  expect(words).toContain(`Executors on \`${master}\``);
  expect(words).toContain('shipped as a PEX');
  const code = (await page.notebook.getCellTextInput(at + 1)) ?? '';
  expect(code).toContain('pexlab.create_spark_session(');
  expect(code).toContain(`master='${master}'`);
  expect(code).toContain("app_name='pexlab-galata'");
  await page.notebook.selectCells(at + 1);
  await page.screenshot({ path: path.join(SCREENSHOTS, 'inserted-cells.png') });

  // Run the inserted setup cell (the demo notebook's own session cell is left alone), then a
  // job cell that uses the editable package on the cluster's executors.
  await page.notebook.runCell(at + 1);
  await page.notebook.addCell(
    'code',
    [
      'import pexlab_demo',
      'rdd = spark.sparkContext.parallelize(range(10), 2)',
      "print('sum of squares:', rdd.map(lambda x: pexlab_demo.square(x)).sum())"
    ].join('\n')
  );
  const last = (await page.notebook.getCellCount()) - 1;
  await page.notebook.runCell(last);
  await expect
    .poll(
      async () => (await page.notebook.getCellTextOutput(last))?.join('') ?? '',
      {
        timeout: 180000
      }
    )
    .toContain('sum of squares: 285');
});
