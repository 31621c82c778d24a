/**
 * The package list at the scale of a big environment (issue #20), on a kernel whose venv holds
 * thousands of metadata-only distributions (`fakepkg-0` ... from scripts/fake_dists.py, made by
 * `make many-dists-venv`): the filter compares names as packaging does (`_`, `-`, `.` alike),
 * names sort naturally (`fakepkg-96` before `fakepkg-959`), the filter and sort controls stay
 * in view while the panel scrolls, and the list is virtual (the DOM stays small).
 */
import { expect, test } from '@jupyterlab/galata';

import { newDemoNotebook, openPanel } from './helpers';

const KERNEL = process.env.PEXLAB_MANY_KERNEL || 'pexlab-many';
/** At least this many fake distributions (MANY_DISTS in the Makefile: 3000). */
const AT_LEAST = 1000;

test.use({ autoGoto: true, viewport: { width: 1280, height: 640 } });

test('thousands of packages: normalized filter, natural sort, sticky controls, small DOM', async ({
  page
}) => {
  await newDemoNotebook(page, 'many.ipynb', KERNEL);
  const panel = await openPanel(page);
  const rows = panel.locator('.pexlab-PackageList-row');
  const count = panel.locator('.pexlab-PackageList-count');
  await expect(rows.first()).toBeVisible();

  // "N of M packages": every package is counted, few rows (and few nodes) are in the DOM.
  const total = Number((await count.textContent())!.match(/of (\d+)/)![1]);
  expect(total).toBeGreaterThan(AT_LEAST);
  const rendered = await rows.count();
  expect(rendered).toBeGreaterThan(0);
  expect(rendered).toBeLessThan(60);
  const nodes = await panel.evaluate(el => el.querySelectorAll('*').length);
  expect(nodes).toBeLessThan(1500);

  // Natural sort: fakepkg-9, -90 ... -99, then -900 (plain string order: -9, -90, -900 ...).
  const filter = panel.getByLabel('Filter packages');
  await filter.fill('fakepkg-9');
  await expect(rows.first()).toHaveAttribute('data-package', 'fakepkg-9');
  const names = await rows.evaluateAll(els =>
    els.map(el => el.getAttribute('data-package'))
  );
  const expected = ['fakepkg-9'];
  for (let i = 90; i <= 99; i++) {
    expected.push(`fakepkg-${i}`);
  }
  expect(names.slice(0, expected.length)).toEqual(expected);
  expect(names[expected.length]).toBe('fakepkg-900');

  // The filter normalizes: `_` and another case find the `-` names.
  await filter.fill('FAKEPKG_99');
  await expect(rows.first()).toHaveAttribute('data-package', 'fakepkg-99');
  // fakepkg-99 and fakepkg-990 ... fakepkg-999
  await expect(count).toContainText(`11 of ${total}`);
  await expect(rows).toHaveCount(11);
  await filter.fill('fakepkg.2999');
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toHaveAttribute('data-package', 'fakepkg-2999');

  // Scrolling the list to its end brings the last rows in, and the DOM stays small.
  await filter.fill('');
  await expect(count).toContainText(`${total} of ${total}`);
  const viewport = panel.locator('.pexlab-PackageList-viewport');
  await viewport.evaluate(el => {
    el.scrollTop = el.scrollHeight;
  });
  await expect(rows.last()).toHaveAttribute('aria-posinset', String(total));
  expect(await rows.count()).toBeLessThan(60);

  // Scrolling the panel to its end: the title goes out of view, the controls stay in view.
  const scrolled = await panel
    .locator('.pexlab-PackageList-header')
    .evaluate(header => {
      let el: HTMLElement | null = header.parentElement;
      while (
        el &&
        !(
          el.scrollHeight > el.clientHeight + 1 &&
          /(auto|scroll)/.test(getComputedStyle(el).overflowY)
        )
      ) {
        el = el.parentElement;
      }
      if (!el) {
        return false;
      }
      el.scrollTop = el.scrollHeight;
      return true;
    });
  expect(scrolled, 'the panel scrolls at this viewport height').toBe(true);
  await expect(panel.locator('.pexlab-Panel-title')).not.toBeInViewport();
  await expect(filter).toBeInViewport();
  await expect(
    panel.getByRole('button', { name: 'Sort by Name' })
  ).toBeInViewport();
  await expect(count).toBeInViewport();
  // ...and they still work there: sort by name descending.
  await panel.getByRole('button', { name: 'Sort by Name' }).click();
  await filter.fill('fakepkg-99');
  await expect(rows.first()).toHaveAttribute('data-package', 'fakepkg-999');
});
