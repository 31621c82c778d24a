/**
 * Settings the server refuses (issue #20): the panel shows the reason right next to the value,
 * and "Insert Spark setup cells" refuses to insert cells that would drop or fail on it, with an
 * error toast that names the setting and the reason.
 */
import { expect, test } from '@jupyterlab/galata';

import {
  openDemoNotebook,
  openPanel,
  setSettings,
  setupCellIndex,
  toastTexts
} from './helpers';

test.use({ autoGoto: true, viewport: { width: 1280, height: 800 } });

const INSERT =
  '.jp-NotebookPanel-toolbar [data-command="pexlab:insert-setup-cells"]';

test('a mistyped master shows its error next to the value, and no cells are inserted', async ({
  page,
  tmpPath
}) => {
  await openDemoNotebook(page, tmpPath);
  const panel = await openPanel(page);
  const master = panel.locator('.pexlab-Setting[data-setting="master"]');
  await expect(master).toBeVisible();
  await expect(master).not.toHaveAttribute('data-invalid', 'true');

  try {
    await setSettings(page, { master: 'sprak://x:7077' });
    await expect(master).toHaveAttribute('data-invalid', 'true', {
      timeout: 30000
    });
    await expect(master.locator('dd code')).toHaveText('sprak://x:7077');
    const error = master.locator('.pexlab-SettingError');
    await expect(error).toContainText('Did you mean spark://x:7077');
    await expect(error).toHaveAttribute('role', 'alert');
    // The storage has nothing to say.
    await expect(
      panel.locator('.pexlab-Setting[data-setting="storage"]')
    ).not.toHaveAttribute('data-invalid', 'true');

    // The toolbar button refuses, and says why.
    const before = await page.notebook.getCellCount();
    await page.locator(INSERT).click();
    await expect
      .poll(() => toastTexts(page))
      .toContainEqual(
        expect.stringMatching(
          /^Spark setup cells not inserted\. .*master sprak:\/\/x:7077: .*Did you mean spark:\/\/x:7077/
        )
      );
    expect(await page.notebook.getCellCount()).toBe(before);
    expect(await setupCellIndex(page)).toBe(-1);
  } finally {
    await setSettings(page, { master: '' });
  }
  await expect(master).not.toHaveAttribute('data-invalid', 'true', {
    timeout: 30000
  });
  await expect(master.locator('.pexlab-SettingError')).toHaveCount(0);
  // Fixed: the same button inserts.
  await page.locator(INSERT).click();
  await expect
    .poll(() => setupCellIndex(page), { timeout: 30000 })
    .toBeGreaterThanOrEqual(0);
});

test('a storage the server refuses is never silently dropped on insert', async ({
  page,
  tmpPath
}) => {
  await openDemoNotebook(page, tmpPath);
  const panel = await openPanel(page);
  const storage = panel.locator('.pexlab-Setting[data-setting="storage"]');
  await expect(storage).not.toHaveAttribute('data-invalid', 'true');
  const url = 'http://example.invalid/x';
  try {
    await setSettings(page, { storage: url });
    // Next to the value: the server's allow-list reason.
    await expect(storage).toHaveAttribute('data-invalid', 'true', {
      timeout: 30000
    });
    await expect(storage.locator('dd code')).toHaveText(url);
    await expect(storage.locator('.pexlab-SettingError')).toContainText(
      "protocol 'http' is not in c.PexLab.allowed_storage"
    );

    const before = await page.notebook.getCellCount();
    await page.locator(INSERT).click();
    // Refused, with the URL and the reason; no cell without the storage was inserted.
    await expect
      .poll(() => toastTexts(page))
      .toContainEqual(
        expect.stringMatching(
          /^Spark setup cells not inserted\. .*storage http:\/\/example\.invalid\/x: .*not allowed on this server/
        )
      );
    expect(await page.notebook.getCellCount()).toBe(before);
    expect(await setupCellIndex(page)).toBe(-1);
    expect(await toastTexts(page)).not.toContainEqual(
      'Spark setup cells inserted.'
    );
  } finally {
    await setSettings(page, { storage: '' });
  }
  await expect(storage).not.toHaveAttribute('data-invalid', 'true', {
    timeout: 30000
  });
});
