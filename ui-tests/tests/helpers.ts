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
