/**
 * A classic Spark session made by pexlab on the embedded standalone cluster (bare workers), as
 * a notebook user meets it (issue #20):
 *
 * - a good start prints no JVM chatter (no stderr block with NativeCodeLoader or log4j lines);
 * - a job draws a live progress bar under its cell, which ends as one "done" line;
 * - the edit loop: after a `pip install`, the same `create_spark_session(...)` call, with no
 *   manual stop, says in one line that it stopped pexlab's previous context, and the executors
 *   then import the new package (they could not before: a negative control).
 *
 * Serial: one kernel, one Spark application at a time on the shared cluster.
 */
import { expect, test } from '@jupyterlab/galata';
import { execFileSync } from 'child_process';

import {
  DEMO_PYTHON,
  cellOutputs,
  newDemoNotebook,
  putCode,
  runCode
} from './helpers';

/** A small PyPI package the demo venv does not have (flow.spec.ts uses it too). */
const EXTRA_PACKAGE = process.env.PEXLAB_STALE_PACKAGE || 'iniconfig';
const MODULE = EXTRA_PACKAGE.replace(/-/g, '_');

test.use({ autoGoto: true, viewport: { width: 1280, height: 900 } });

function pip(...args: string[]): void {
  execFileSync(
    DEMO_PYTHON,
    ['-m', 'pip', '--disable-pip-version-check', '-q', ...args],
    { stdio: 'inherit' }
  );
}

/** JVM start-up lines that must not reach the cell on a good start. */
const CHATTER = [
  'NativeCodeLoader',
  'log4j',
  'Using incubator modules',
  'Setting default log level',
  "Using Spark's default"
];

test('a good start is quiet, jobs show progress, and the edit loop needs no stop', async ({
  page
}) => {
  // Two cold PEX builds (before and after the pip install) on a shared 2-core machine.
  test.setTimeout(20 * 60 * 1000);
  const master = process.env.PEXLAB_SPARK_MASTER;
  expect(master).toMatch(/^spark:\/\/127\.0\.0\.1:\d+$/);
  await newDemoNotebook(page, 'session.ipynb');

  const session = [
    'import pexlab',
    `spark = pexlab.create_spark_session(master=${JSON.stringify(master)}, app_name="pexlab-galata-session")`,
    'print("started", spark.sparkContext.master)'
  ].join('\n');
  const start = await runCode(page, 0, session);
  expect(start).toContain(`started ${master}`);
  const startOutputs = await cellOutputs(page, 0);
  expect(startOutputs.map(o => o.type)).not.toContain('error');
  // No JVM chatter, and no stderr block at all on a good start.
  for (const line of CHATTER) {
    expect(start).not.toContain(line);
  }
  expect(startOutputs.filter(o => o.name === 'stderr')).toEqual([]);
  // The packaging progress is replaced by its summary: no frozen bar is left.
  await expect(
    page.locator('.jp-Notebook .jp-Cell').nth(0).locator('progress')
  ).toHaveCount(0);

  // The executors (bare Python) cannot import the extra package yet: the negative control.
  const probe = [
    'def _has(_):',
    '    import importlib.util',
    `    return importlib.util.find_spec(${JSON.stringify(MODULE)}) is not None`,
    `print("executors import ${MODULE}:", spark.sparkContext.parallelize([0, 1], 2).map(_has).collect())`
  ].join('\n');
  expect(await runCode(page, 1, probe)).toContain(
    `executors import ${MODULE}: [False, False]`
  );

  // A job long enough to be drawn: a live bar under the cell, then one "done" line.
  const jobCell = 2;
  await putCode(
    page,
    jobCell,
    'import time\nprint("count", spark.sparkContext.parallelize(range(4), 4).map(lambda x: time.sleep(2) or x).count())'
  );
  await page.notebook.runCell(jobCell, { inplace: true, wait: false });
  const progress = page
    .locator('.jp-Notebook .jp-Cell')
    .nth(jobCell)
    .locator('.pexlab-jobs');
  await expect(progress).toContainText(/Spark job \d+ running: stages 0\/1/, {
    timeout: 60000
  });
  await expect(progress.locator('progress')).toHaveCount(1);
  await expect(progress).toContainText(
    /Spark job \d+ done: stages 1\/1 · tasks 4\/4 · \d+\.\d s/,
    { timeout: 120000 }
  );
  await expect(progress).not.toContainText('running');
  await expect(
    page.locator('.jp-Notebook .jp-Cell').nth(jobCell).locator('.jp-OutputArea')
  ).toContainText('count 4');
  await expect(progress.locator('progress')).toHaveAttribute('value', '1.000');
  // Spark's own console progress ([Stage 0:> ...]) is not in the cell.
  const jobText = (await cellOutputs(page, jobCell)).map(o => o.text).join('');
  expect(jobText).not.toContain('[Stage ');

  // The edit loop: pip install in the kernel's venv, then the same call again, no stop().
  pip('install', '--no-deps', EXTRA_PACKAGE);
  try {
    const again = await runCode(page, 3, session);
    expect(again).toContain(`started ${master}`);
    const stopped = again
      .split('\n')
      .filter(line =>
        line.startsWith('pexlab: stopped the previous Spark session')
      );
    expect(stopped).toHaveLength(1);
    expect(stopped[0]).toContain('starting one with the new environment');
    expect((await cellOutputs(page, 3)).map(o => o.type)).not.toContain(
      'error'
    );
    for (const line of CHATTER) {
      expect(again).not.toContain(line);
    }
    // The new session's executors run the new environment.
    expect(await runCode(page, 4, probe)).toContain(
      `executors import ${MODULE}: [True, True]`
    );
  } finally {
    pip('uninstall', '-y', EXTRA_PACKAGE);
    // Free the cluster's cores for the next spec.
    await page.evaluate(() => {
      const widget = window.jupyterapp.shell.currentWidget as any;
      widget.sessionContext.session?.kernel?.requestExecute({
        code: 'spark.stop()'
      });
    });
  }
});
