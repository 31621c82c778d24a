/**
 * The demo as a new user meets it: open the demo notebook and Run All. The server runs next to
 * the embedded Spark cluster (playwright.config.js starts both through scripts/lab.py), whose
 * workers' Python is a bare venv, so the executors can import numpy, humanize and the editable
 * project only from what pexlab shipped: the PEX and the editable zip.
 */
import { expect, test } from '@jupyterlab/galata';
import type { IJupyterLabPageFixture } from '@jupyterlab/galata';
import * as path from 'path';

import { SCREENSHOTS, openDemoNotebook } from './helpers';

test.use({ autoGoto: true, viewport: { width: 1280, height: 900 } });

/** A cold PEX build plus executors booting it, on a shared 2-core machine. */
const RUN_ALL_TIMEOUT = 12 * 60 * 1000;

interface ICellState {
  source: string;
  text: string;
  error: string | null;
}

/** Each cell's source, its stream/result text and its error, from the notebook model. */
async function cellStates(page: IJupyterLabPageFixture): Promise<ICellState[]> {
  return page.evaluate(() => {
    const widget = window.jupyterapp.shell.currentWidget as any;
    const cells = widget.content.model.sharedModel.toJSON().cells as any[];
    const join = (value: unknown): string =>
      Array.isArray(value) ? value.join('') : String(value ?? '');
    return cells.map(cell => {
      const outputs = (cell.outputs ?? []) as any[];
      const error = outputs.find(o => o.output_type === 'error');
      return {
        source: join(cell.source),
        text: outputs
          .map(o => join(o.text ?? o.data?.['text/plain'] ?? ''))
          .join(''),
        error: error ? `${error.ename}: ${error.evalue}` : null
      };
    });
  });
}

test('demo Run All ships the PEX and the editable zip to the embedded cluster', async ({
  page,
  tmpPath
}) => {
  test.setTimeout(RUN_ALL_TIMEOUT + 2 * 60 * 1000);
  const notebook = await openDemoNotebook(page, tmpPath);

  // The server's default master (what inserted cells use while the user setting is empty) is
  // the embedded cluster too: `--PexLab.master`, returned as build.master.
  const base = page.url().split('/lab')[0];
  const sessions = await (
    await page.request.get(`${base}/api/sessions`)
  ).json();
  const kernelId = sessions.find((s: any) => s.path === notebook).kernel.id;
  const environment = await (
    await page.request.get(`${base}/pexlab/kernels/${kernelId}/environment`)
  ).json();
  expect(environment.build?.master).toBe(process.env.PEXLAB_SPARK_MASTER);

  await page.menu.clickMenuItem('Run>Run All Cells');

  // Wait for the last code cell (where each import came from); stop at the first error.
  let cells: ICellState[] = [];
  const deadline = Date.now() + RUN_ALL_TIMEOUT;
  for (;;) {
    cells = await cellStates(page);
    const failed = cells.find(cell => cell.error !== null);
    if (failed) {
      throw new Error(
        `Run All failed in the cell\n${failed.source}\n${failed.error}\n${failed.text}`
      );
    }
    const origins = cells.find(cell => cell.source.includes('def origins('));
    if (origins?.text.includes("the workers' own python3")) {
      break;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `Run All did not finish:\n${cells.map(c => c.text).join('\n---\n')}`
      );
    }
    await page.waitForTimeout(2000);
  }

  const session = cells.find(cell =>
    cell.source.includes('pexlab.create_spark_session(')
  )!;
  const origins = cells.find(cell => cell.source.includes('def origins('))!;
  // The session cell reports what pexlab built and shipped, not a local master.
  expect(session.text).toMatch(/pexlab-env-[0-9a-f]+\.pex/);
  expect(session.text).not.toContain('nothing shipped');
  // The executors imported the packages from the PEX and the project from its zip...
  // The cluster the launcher started next to this server (playwright.config.js).
  expect(process.env.PEXLAB_SPARK_MASTER).toMatch(
    /^spark:\/\/127\.0\.0\.1:\d+$/
  );
  expect(origins.text).toContain(`master ${process.env.PEXLAB_SPARK_MASTER}`);
  expect(origins.text).toMatch(
    // The node cache's one PEX_ROOT per user (<root>/pex), shared by every environment.
    /executors run the PEX pexlab-env-[0-9a-f]+\.pex, unpacked once per node into \S+\/pex$/m
  );
  for (const name of ['numpy', 'humanize', 'tabulate']) {
    expect(origins.text).toMatch(
      new RegExp(
        `${name} +from the PEX pexlab-env-[0-9a-f]+\\.pex: …/site-packages/${name}/`
      )
    );
  }
  expect(origins.text).toMatch(
    /pexlab_demo +from the editable zip pexlab_demo_project-[0-9a-f]+\.zip: /
  );
  // ...and could not have found them in the workers' own Python.
  expect(origins.text).toMatch(
    /the workers' own python3 \(\S+\) cannot import numpy/
  );

  const originsCell = page.locator('.jp-Notebook .jp-Cell').filter({
    hasText: 'def origins('
  });
  await originsCell.locator('.jp-OutputArea').scrollIntoViewIfNeeded();
  await page.screenshot({ path: path.join(SCREENSHOTS, 'demo-run-all.png') });
});
