/**
 * Run-time choices of a Galata run, made once in Playwright's runner process.
 *
 * - PEXLAB_UI_PORT: a free port on 127.0.0.1 for the test JupyterLab (never a fixed one: the
 *   user may have JupyterLab on 8888 while `make test` runs).
 * - PEXLAB_UI_STATE_DIR: a fresh folder for the embedded Spark cluster's launcher
 *   (scripts/lab.py writes `cluster.json` there: the master URL and the daemons' PIDs).
 * - PEXLAB_SCREENSHOTS_DIR: where specs save screenshots, test-results/screenshots (git-ignored)
 *   so a test run leaves the clone clean; `make screenshots` points it at screenshots/, the
 *   README's pictures.
 *
 * All go into process.env: Playwright's workers load the config again, and they and the web
 * server inherit the runner's environment, so every process sees the same values. A value
 * already set (by the caller) is kept.
 */
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

/** A port the kernel just handed out for 127.0.0.1 (the config is synchronous, so a child
 * node process binds port 0 and reports it). */
function freePort() {
  const script =
    "const s = require('net').createServer();" +
    "s.listen(0, '127.0.0.1', () => { process.stdout.write(String(s.address().port)); s.close(); });";
  return execFileSync(process.execPath, ['-e', script]).toString().trim();
}

function ensureUiEnv() {
  if (!process.env.PEXLAB_UI_PORT) {
    process.env.PEXLAB_UI_PORT = freePort();
  }
  if (!process.env.PEXLAB_UI_STATE_DIR) {
    process.env.PEXLAB_UI_STATE_DIR = fs.mkdtempSync(
      path.join(os.tmpdir(), 'pexlab-galata-lab-')
    );
  }
  if (!process.env.PEXLAB_SCREENSHOTS_DIR) {
    process.env.PEXLAB_SCREENSHOTS_DIR = path.join(
      __dirname,
      'test-results',
      'screenshots'
    );
  }
  return {
    port: process.env.PEXLAB_UI_PORT,
    stateDir: process.env.PEXLAB_UI_STATE_DIR
  };
}

module.exports = { ensureUiEnv, freePort };
