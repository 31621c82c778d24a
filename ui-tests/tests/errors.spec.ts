/**
 * A pexlab error in a notebook cell (issue #20): its name, message and fix, one line naming how
 * to get the full traceback, and none of pexlab's own frames; the switch named in that line
 * brings the frames back.
 */
import { expect, test } from '@jupyterlab/galata';

import { cellOutputs, newDemoNotebook, runCode } from './helpers';

test.use({ autoGoto: true, viewport: { width: 1280, height: 900 } });

test('a pexlab error shows its message and fix, not pexlab frames', async ({
  page
}) => {
  await newDemoNotebook(page, 'errors.ipynb');
  const output = await runCode(
    page,
    0,
    'import pexlab\npexlab.create_spark_session(master="sprak://x:7077")'
  );
  expect(output).toContain('PexlabSparkError');
  expect(output).toContain("'sprak://x:7077' is not a Spark master URL");
  expect(output).toContain('Did you mean spark://x:7077');
  // The way to the full traceback is named in the message.
  expect(output).toContain('PEXLAB_TRACEBACK=1');
  expect(output).toContain('pexlab.show_tracebacks()');
  // No frames: neither pexlab's modules nor IPython's traceback header.
  expect(output).not.toMatch(/pexlab\/(spark|core)\/\w+\.py/);
  expect(output).not.toContain('Traceback');
  expect(output).not.toContain('session_for(');
  // It is still an error output (the cell failed), not a printed text.
  const outputs = await cellOutputs(page, 0);
  expect(outputs.map(o => o.type)).toContain('error');

  // The switch named in the message brings the frames back.
  const full = await runCode(
    page,
    1,
    'pexlab.show_tracebacks()\npexlab.create_spark_session(master="sprak://x:7077")'
  );
  expect(full).toContain('Did you mean spark://x:7077');
  expect(full).toMatch(/pexlab\/spark\/\w+\.py/);
});
