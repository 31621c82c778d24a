import { expect, test } from '@jupyterlab/galata';
import * as path from 'path';

import {
  DEMO_PYTHON,
  EDITABLE,
  SCREENSHOTS,
  openDemoNotebook,
  openPanel
} from './helpers';

test.use({ autoGoto: true });

test.describe('Spark environment panel', () => {
  test('shows the demo kernel environment with its editable package', async ({
    page,
    tmpPath
  }) => {
    await openDemoNotebook(page, tmpPath);
    const panel = await openPanel(page);

    // The interpreter is the demo venv's, not the server's.
    const python = panel.locator('.pexlab-Header-python');
    await expect(python).toContainText(path.dirname(path.dirname(DEMO_PYTHON)));
    await expect(panel.locator('.pexlab-Header-kind')).toHaveText('venv');

    const rows = panel.locator('.pexlab-PackageList-row');
    await expect(rows.filter({ hasText: 'ipykernel' })).toHaveCount(1);
    const editable = panel.locator(
      `.pexlab-PackageList-row[data-package="${EDITABLE}"]`
    );
    await expect(editable).toHaveCount(1);
    await expect(editable.locator('.pexlab-Badge-editable')).toHaveText(
      'editable'
    );

    await page.screenshot({ path: path.join(SCREENSHOTS, 'panel.png') });

    // Filtering narrows the list to the editable package.
    await panel.getByLabel('Filter packages').fill(EDITABLE);
    await expect(rows).toHaveCount(1);
    await expect(rows.first()).toHaveAttribute('data-package', EDITABLE);

    // Dark theme: the panel follows JupyterLab's CSS variables.
    await panel.getByLabel('Filter packages').fill('');
    await page.theme.setDarkTheme();
    const background = await panel.evaluate(
      el => getComputedStyle(el).backgroundColor
    );
    const [r, g, b] = background.match(/\d+/g)!.map(Number);
    expect(r + g + b).toBeLessThan(3 * 100);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'panel-dark.png') });
    await page.theme.setLightTheme();

    // The panel comes back with the layout when the page is loaded again (ILayoutRestorer).
    // (plain browser reload: galata's reload waits for a launcher tab this layout lacks)
    // The layout is saved asynchronously after each change: reloading before the save with
    // the panel open has landed would test the race, not the restorer. Change the layout once
    // more and wait for that save.
    const saved = page.waitForRequest(
      req =>
        req.method() === 'PUT' &&
        req.url().includes('/api/workspaces') &&
        (req.postData() ?? '').includes('pexlab-spark-environment')
    );
    await page.evaluate(async () => {
      await window.jupyterapp.commands.execute('application:toggle-left-area');
      await window.jupyterapp.commands.execute('application:toggle-left-area');
    });
    await saved;
    const loaded = page.waitForEvent('load');
    await page.evaluate(() => window.location.reload());
    await loaded;
    await expect(page.locator('#pexlab-spark-environment')).toBeVisible({
      timeout: 60000
    });
    await expect(
      page.locator('#pexlab-spark-environment .pexlab-Panel')
    ).toHaveAttribute('data-status', 'ready', { timeout: 60000 });
  });

  test('commands are in the palette and the toolbar', async ({
    page,
    tmpPath
  }) => {
    await openDemoNotebook(page, tmpPath);
    await expect(
      page.locator(
        '.jp-NotebookPanel-toolbar [data-command="pexlab:insert-setup-cells"]'
      )
    ).toBeVisible();
    await page.keyboard.press('Control+Shift+C');
    const palette = page.locator('#modal-command-palette');
    await expect(palette).toBeVisible();
    await palette.locator('input').fill('Spark');
    for (const label of [
      'Insert Spark setup cells',
      'Build Spark environment',
      'Show Spark environment'
    ]) {
      await expect(
        palette.locator('.lm-CommandPalette-item', { hasText: label })
      ).toHaveCount(1);
    }
    // Keyboard only: run "Show Spark environment" from the palette.
    await palette.locator('input').fill('Show Spark environment');
    await page.keyboard.press('Enter');
    await expect(page.locator('#pexlab-spark-environment')).toBeVisible();
  });

  test('says so when there is no kernel', async ({ page }) => {
    const panel = page.locator('#pexlab-spark-environment');
    await page.evaluate(async () => {
      await window.jupyterapp.commands.execute('pexlab:show');
    });
    await expect(panel.locator('.pexlab-NoKernel')).toBeVisible();
  });
});
