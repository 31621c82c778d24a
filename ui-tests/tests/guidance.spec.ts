/**
 * A kernel whose environment lacks pexlab: the panel says so and offers the fix, and the
 * inserted cells fail with the same hint instead of a bare ModuleNotFoundError.
 *
 * Needs the `pexlab-nopexlab` kernelspec: a venv with ipykernel and without pexlab (set up
 * for the ui-tests by jupyter_server_test_config.py; `PEXLAB_NOPEXLAB_KERNEL` names another).
 */
import { expect, test } from '@jupyterlab/galata';
import * as path from 'path';

import { SCREENSHOTS, openPanel, setupCellIndex } from './helpers';

const KERNEL = process.env.PEXLAB_NOPEXLAB_KERNEL || 'pexlab-nopexlab';

test.use({ autoGoto: true, viewport: { width: 1280, height: 800 } });

test('a kernel without pexlab: the panel says so, offers the install, the cells give the hint', async ({
  page
}) => {
  const base = page.url().split('/lab')[0];
  const specs = await (
    await page.request.get(`${base}/api/kernelspecs`)
  ).json();
  expect(
    Object.keys(specs.kernelspecs),
    `the ui-tests need a kernelspec '${KERNEL}' whose venv has ipykernel but not pexlab`
  ).toContain(KERNEL);

  await page.notebook.createNew('no-pexlab.ipynb', { kernel: KERNEL });
  await expect(
    page.locator(
      '.jp-NotebookPanel-toolbar .jp-Notebook-ExecutionIndicator[data-status="idle"]'
    )
  ).toHaveCount(1, { timeout: 60000 });
  const panel = await openPanel(page);

  const missing = panel.locator('.pexlab-Missing');
  await expect(missing).toBeVisible();
  await expect(missing).toContainText('lacks pexlab');
  await expect(missing).toContainText('%pip install pexlab');
  // The fix is one button away, and reachable from the keyboard.
  const install = missing.getByRole('button', {
    name: 'Install pexlab in this kernel'
  });
  await install.focus();
  await expect(install).toBeFocused();
  await page.screenshot({
    path: path.join(SCREENSHOTS, 'panel-no-pexlab.png')
  });

  // The inserted cells fail with the same hint.
  await page
    .locator(
      '.jp-NotebookPanel-toolbar [data-command="pexlab:insert-setup-cells"]'
    )
    .click();
  await expect.poll(() => setupCellIndex(page)).toBeGreaterThanOrEqual(0);
  const code = (await setupCellIndex(page)) + 1;
  await page.notebook.runCell(code);
  await expect
    .poll(
      async () => (await page.notebook.getCellTextOutput(code))?.join('') ?? ''
    )
    .toContain('%pip install pexlab');
  const output = (await page.notebook.getCellTextOutput(code))?.join('') ?? '';
  expect(output).toContain(
    "pexlab is not installed in this kernel's environment"
  );
  expect(output).not.toContain("No module named 'pexlab'");
});
