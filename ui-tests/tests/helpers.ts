import type { IJupyterLabPageFixture } from '@jupyterlab/galata';
import { expect } from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';
import * as path from 'path';

export const NOTEBOOK = 'pexlab-demo.ipynb';
/** Distribution name of the project installed editable in the demo venv. */
export const EDITABLE =
  process.env.PEXLAB_DEMO_EDITABLE || 'pexlab-demo-project';
export const DEMO_PYTHON =
  process.env.PEXLAB_DEMO_PYTHON ||
  path.resolve(__dirname, '..', '..', '.cache', 'demo-venv', 'bin', 'python');
/** Where specs save screenshots: test-results/ unless `make screenshots` asks for the README's
 * folder (playwright.config.js sets PEXLAB_SCREENSHOTS_DIR), so a test run leaves git clean. */
export const SCREENSHOTS =
  process.env.PEXLAB_SCREENSHOTS_DIR ||
  path.resolve(__dirname, '..', 'screenshots');

export const NOTEBOOK_SOURCE = path.resolve(
  __dirname,
  '..',
  '..',
  'demo',
  'notebooks',
  NOTEBOOK
);

/**
 * Copy the demo notebook into the test's own folder, open it and wait until its kernel (the
 * demo venv) is idle. Returns the notebook's path on the server.
 */
export async function openDemoNotebook(
  page: IJupyterLabPageFixture,
  tmpPath: string
): Promise<string> {
  const target = `${tmpPath}/${NOTEBOOK}`;
  await page.contents.uploadFile(NOTEBOOK_SOURCE, target);
  await page.notebook.openByPath(target);
  await page.notebook.activate(NOTEBOOK);
  await expect(
    page.locator(
      '.jp-NotebookPanel-toolbar .jp-Notebook-ExecutionIndicator[data-status="idle"]'
    )
  ).toHaveCount(1, { timeout: 60000 });
  return target;
}

/** Open the "Spark environment" panel through its command and wait for the environment. */
export async function openPanel(
  page: IJupyterLabPageFixture
): Promise<Locator> {
  await page.evaluate(async () => {
    await window.jupyterapp.commands.execute('pexlab:show');
  });
  const panel = page.locator('#pexlab-spark-environment');
  await expect(panel).toBeVisible();
  await expect(panel.locator('.pexlab-Panel')).toHaveAttribute(
    'data-status',
    'ready',
    {
      timeout: 60000
    }
  );
  return panel;
}

/** The id of the kernel of the notebook at `notebookPath` (from the sessions API). */
export async function kernelIdOf(
  page: IJupyterLabPageFixture,
  notebookPath: string
): Promise<string> {
  const base = page.url().split('/lab')[0];
  const sessions = await (
    await page.request.get(`${base}/api/sessions`)
  ).json();
  return sessions.find((s: any) => s.path === notebookPath).kernel.id;
}

/**
 * GET /pexlab/kernels/<id>/environment with the user's choices (default: the settings'
 * defaults), as the panel asks for it.
 */
export async function environmentOf(
  page: IJupyterLabPageFixture,
  kernelId: string,
  choices: { exclude_extra: string[]; include_editable: boolean } = {
    exclude_extra: [],
    include_editable: true
  }
): Promise<any> {
  const base = page.url().split('/lab')[0];
  const options = encodeURIComponent(JSON.stringify(choices));
  const response = await page.request.get(
    `${base}/pexlab/kernels/${kernelId}/environment?options=${options}`
  );
  expect(response.status()).toBe(200);
  return response.json();
}

/** Set pexlab settings through JupyterLab's setting registry, as the settings editor would. */
export async function setSettings(
  page: IJupyterLabPageFixture,
  values: Record<string, unknown>
): Promise<void> {
  await page.evaluate(async values => {
    const registry = (await window.galata.getPlugin(
      '@jupyterlab/apputils-extension:settings'
    )) as any;
    for (const [key, value] of Object.entries(values)) {
      await registry.set('pexlab:plugin', key, value);
    }
  }, values);
}

/** Index of the inserted setup markdown cell (found by its heading), or -1. */
export async function setupCellIndex(
  page: IJupyterLabPageFixture
): Promise<number> {
  const count = await page.notebook.getCellCount();
  for (let i = 0; i < count; i++) {
    const text = (await page.notebook.getCellTextInput(i)) ?? '';
    if (text.startsWith("## Spark session with this kernel's environment")) {
      return i;
    }
  }
  return -1;
}

/** Messages of the notifications (toasts) JupyterLab currently holds. */
export async function toastTexts(
  page: IJupyterLabPageFixture
): Promise<string[]> {
  return (await page.notifications).map(n => n.message);
}
