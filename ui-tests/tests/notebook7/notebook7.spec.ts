/**
 * The extension in Jupyter Notebook 7 (issue #20), against a real `jupyter notebook` server
 * (playwright.notebook.config.js) and the demo kernel: the Spark environment panel has its icon
 * in the right sidebar and a button in the top area (Notebook 7 draws no side tab bar, so the
 * button is the visible way to the panel), the command palette lists each pexlab command once
 * (Notebook lists the panel itself as "Show Spark environment"), and the toolbar button inserts
 * the setup cells.
 */
import { expect, test } from '@playwright/test';
import type { Page } from '@playwright/test';
import * as path from 'path';

const NOTEBOOK = 'pexlab-demo.ipynb';
const EDITABLE = process.env.PEXLAB_DEMO_EDITABLE || 'pexlab-demo-project';
const SCREENSHOTS =
  process.env.PEXLAB_SCREENSHOTS_DIR ||
  path.resolve(__dirname, '..', '..', 'screenshots');

/** Open the demo notebook (the server's config put a copy in its root) with an idle kernel. */
async function openNotebook(page: Page): Promise<void> {
  await page.goto(`/notebooks/${NOTEBOOK}`);
  await page.waitForFunction(
    () =>
      (window as any).jupyterapp?.shell?.currentWidget?.sessionContext?.session
        ?.kernel?.status === 'idle',
    undefined,
    { timeout: 90000 }
  );
}

/** The notebook's cells, from its model. */
async function cellSources(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    (
      window as any
    ).jupyterapp.shell.currentWidget.content.model.sharedModel.cells.map(
      (c: any) => c.getSource()
    )
  );
}

test('Notebook 7: the top-area button shows and hides the panel', async ({
  page
}) => {
  await openNotebook(page);
  const button = page.locator('#top-panel button.pexlab-PanelButton');
  await expect(button).toBeVisible();
  await expect(button).toHaveAttribute('aria-label', 'Show Spark environment');
  await expect(button).toHaveAttribute('title', 'Show Spark environment');
  await expect(button.locator('svg[data-icon="pexlab:spark"]')).toBeVisible();
  await expect(button).toHaveAttribute('aria-pressed', 'false');
  const panel = page.locator('#pexlab-spark-environment');
  await expect(panel).toBeHidden();

  // A click opens the panel on the kernel's environment, editable project included.
  await button.click();
  await expect(panel).toBeVisible();
  await expect(button).toHaveAttribute('aria-pressed', 'true');
  await expect(panel.locator('.pexlab-Panel')).toHaveAttribute(
    'data-status',
    'ready',
    { timeout: 90000 }
  );
  await panel.getByLabel('Filter packages').fill(EDITABLE);
  await expect(
    panel.locator(`.pexlab-PackageList-row[data-package="${EDITABLE}"]`)
  ).toHaveCount(1);
  await page.screenshot({
    path: path.join(SCREENSHOTS, 'notebook7-button.png')
  });

  // Again: hidden, and the button says so.
  await button.click();
  await expect(panel).toBeHidden();
  await expect(button).toHaveAttribute('aria-pressed', 'false');

  // By keyboard: it is a real button.
  await button.focus();
  await page.keyboard.press('Enter');
  await expect(panel).toBeVisible();
  await page.keyboard.press('Space');
  await expect(panel).toBeHidden();

  // The dark theme: the button takes the theme's colours (JupyterLab's CSS variables).
  await page.evaluate(() =>
    (window as any).jupyterapp.commands.execute('apputils:change-theme', {
      theme: 'JupyterLab Dark'
    })
  );
  await expect(page.locator('body')).toHaveAttribute(
    'data-jp-theme-light',
    'false',
    { timeout: 30000 }
  );
  const colours = await button.evaluate(el => ({
    colour: getComputedStyle(el).color,
    expected: getComputedStyle(document.body)
      .getPropertyValue('--jp-ui-font-color1')
      .trim()
  }));
  const probe = await page.evaluate(expected => {
    const el = document.createElement('span');
    el.style.color = expected;
    document.body.appendChild(el);
    const colour = getComputedStyle(el).color;
    el.remove();
    return colour;
  }, colours.expected);
  expect(colours.colour).toBe(probe);
  await page.evaluate(() =>
    (window as any).jupyterapp.commands.execute('apputils:change-theme', {
      theme: 'JupyterLab Light'
    })
  );
  await expect(page.locator('body')).toHaveAttribute(
    'data-jp-theme-light',
    'true',
    { timeout: 30000 }
  );
});

test('Notebook 7: sidebar icon, one palette entry each, toolbar inserts the cells', async ({
  page
}) => {
  await openNotebook(page);
  const kernel = await page.evaluate(
    () =>
      (window as any).jupyterapp.shell.currentWidget.sessionContext.session
        .kernel.name
  );
  expect(kernel).toBe('pexlab-demo');

  // The command palette: each entry once, the panel's own included.
  await page.keyboard.press('Control+Shift+C');
  const palette = page.locator('#modal-command-palette');
  await expect(palette).toBeVisible();
  await palette.locator('input').fill('Spark');
  for (const label of [
    'Show Spark environment',
    'Insert Spark setup cells',
    'Build Spark environment'
  ]) {
    await expect(
      palette.locator('.lm-CommandPalette-item', { hasText: label })
    ).toHaveCount(1);
  }
  // Open the panel from the palette, by keyboard.
  await palette.locator('input').fill('Show Spark environment');
  await page.keyboard.press('Enter');
  const panel = page.locator('#pexlab-spark-environment');
  await expect(panel).toBeVisible();
  await expect(panel.locator('.pexlab-Panel')).toHaveAttribute(
    'data-status',
    'ready',
    { timeout: 90000 }
  );
  await panel.getByLabel('Filter packages').fill(EDITABLE);
  await expect(
    panel.locator(`.pexlab-PackageList-row[data-package="${EDITABLE}"]`)
  ).toHaveCount(1);

  // The side panel carries pexlab's icon and caption (Notebook 7.6 draws no tab bar for the
  // right area: its View › Right Sidebar menu and palette name panels by their caption).
  const title = await page.evaluate(() => {
    const shell = (window as any).jupyterapp.shell;
    const widget = Array.from(shell.widgets('right') as Iterable<any>).find(
      (w: any) => w.id === 'pexlab-spark-environment'
    ) as any;
    return widget
      ? { icon: widget.title.icon?.name, caption: widget.title.caption }
      : null;
  });
  expect(title).toEqual({ icon: 'pexlab:spark', caption: 'Spark environment' });
  // Notebook 7's menu bar: galata's menu helper is JupyterLab's.
  // eslint-disable-next-line jupyter/galata-prefer-menu-helper
  await page.locator('.lm-MenuBar-itemLabel', { hasText: /^View$/ }).click();
  await page
    .locator('.lm-Menu-itemLabel', { hasText: /^Right Sidebar$/ })
    .hover();
  await expect(
    page.locator('.lm-Menu-itemLabel', { hasText: /^Show Spark environment$/ })
  ).toHaveCount(1);
  await page.keyboard.press('Escape');
  await page.keyboard.press('Escape');

  await page.screenshot({ path: path.join(SCREENSHOTS, 'notebook7.png') });

  // The toolbar button inserts the setup cells.
  const before = (await cellSources(page)).length;
  const button = page.locator(
    '.jp-NotebookPanel-toolbar [data-command="pexlab:insert-setup-cells"]'
  );
  await expect(button.locator('[data-icon="pexlab:spark"]')).toHaveCount(1);
  await button.click();
  await expect
    .poll(async () => (await cellSources(page)).length)
    .toBe(before + 2);
  const sources = await cellSources(page);
  const at = sources.findIndex(s =>
    s.startsWith("## Spark session with this kernel's environment")
  );
  expect(at).toBeGreaterThanOrEqual(0);
  expect(sources[at + 1]).toContain('pexlab.create_spark_session(');
  await expect(
    page.locator('.Toastify__toast', { hasText: 'Spark setup cells inserted.' })
  ).toBeVisible();
});
