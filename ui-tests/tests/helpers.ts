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
  await waitForIdleKernel(page);
  return target;
}

/**
 * Wait until the current notebook's kernel is idle, from its session context: with more than
 * one notebook open, each has a toolbar (and an execution indicator) in the DOM, hidden ones
 * included, so a toolbar locator cannot tell which notebook it looks at.
 */
export async function waitForIdleKernel(
  page: IJupyterLabPageFixture,
  timeout = 60000
): Promise<void> {
  await page.waitForFunction(
    () => {
      const widget = window.jupyterapp.shell.currentWidget as any;
      return widget?.sessionContext?.session?.kernel?.status === 'idle';
    },
    undefined,
    { timeout }
  );
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

/** Index of the inserted setup markdown cell (found by its heading), or -1. Read from the
 * notebook model: the DOM holds only the cells in view, and a rendered markdown cell's editor. */
export async function setupCellIndex(
  page: IJupyterLabPageFixture
): Promise<number> {
  return page.evaluate(() => {
    const widget = window.jupyterapp.shell.currentWidget as any;
    const cells = widget?.content?.model?.sharedModel?.cells ?? [];
    return cells.findIndex((c: any) =>
      c
        .getSource()
        .startsWith("## Spark session with this kernel's environment")
    );
  });
}

/** Messages of the notifications (toasts) JupyterLab currently holds. */
export async function toastTexts(
  page: IJupyterLabPageFixture
): Promise<string[]> {
  return (await page.notifications).map(n => n.message);
}

/** A new notebook on the demo kernel (`pexlab-demo` unless `kernel` says), idle. */
export async function newDemoNotebook(
  page: IJupyterLabPageFixture,
  name: string,
  kernel = 'pexlab-demo'
): Promise<void> {
  await page.notebook.createNew(name, { kernel });
  await waitForIdleKernel(page);
}

/**
 * Put `source` in the code cell at `index` (an existing cell, or a new one at the end), through
 * the notebook model (typing would let the editor re-indent multi-line code), and add it.
 */
export async function putCode(
  page: IJupyterLabPageFixture,
  index: number,
  source: string
): Promise<void> {
  await page.evaluate(
    ({ index, source }) => {
      const widget = window.jupyterapp.shell.currentWidget as any;
      const model = widget.content.model.sharedModel;
      if (index < model.cells.length) {
        model.deleteCell(index);
      }
      model.insertCell(index, { cell_type: 'code', source });
    },
    { index, source }
  );
}

/** Put `source` in the cell at `index` (see putCode), run it in place and return its whole
 * output text once it is done. */
export async function runCode(
  page: IJupyterLabPageFixture,
  index: number,
  source: string
): Promise<string> {
  await putCode(page, index, source);
  await page.notebook.runCell(index, { inplace: true });
  return (await page.notebook.getCellTextOutput(index))?.join('\n') ?? '';
}

export interface ICellOutput {
  /** stream, error, display_data, execute_result */
  type: string;
  /** stdout/stderr for a stream */
  name?: string;
  /** the stream text, the text/plain data or the error's traceback */
  text: string;
}

/** The outputs of the cell at `index` of the current notebook, from the notebook model. */
export async function cellOutputs(
  page: IJupyterLabPageFixture,
  index: number
): Promise<ICellOutput[]> {
  return page.evaluate(index => {
    const widget = window.jupyterapp.shell.currentWidget as any;
    const cell = widget.content.model.sharedModel.toJSON().cells[index];
    const join = (value: unknown, sep = ''): string =>
      Array.isArray(value) ? value.join(sep) : String(value ?? '');
    return ((cell.outputs ?? []) as any[]).map(o => ({
      type: o.output_type,
      name: o.name,
      text:
        o.output_type === 'error'
          ? join(o.traceback, '\n')
          : join(o.text ?? o.data?.['text/plain'] ?? '')
    }));
  }, index);
}
