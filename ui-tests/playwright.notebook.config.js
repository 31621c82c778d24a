/**
 * Playwright configuration of the Jupyter Notebook 7 run (tests/notebook7/): plain Playwright
 * (galata's fixtures are JupyterLab's), Debian's Chromium, and `jupyter notebook` with the same
 * test server configuration as the JupyterLab run (jupyter_server_test_config.py: the pexlab
 * server extension, the demo kernel, a fresh cache and storage) on a free port of its own.
 *
 * No Spark cluster: these tests look at the panel, the palette and the inserted cells, which
 * need the server and the kernel but no master.
 */
const { execFileSync } = require('child_process');
const { freePort } = require('./ui-env');

// Not PEXLAB_UI_PORT: `make ui-test` runs the JupyterLab config first, in the same shell.
if (!process.env.PEXLAB_NB7_PORT) {
  process.env.PEXLAB_NB7_PORT = freePort();
}
const port = process.env.PEXLAB_NB7_PORT;
if (!process.env.PEXLAB_SCREENSHOTS_DIR) {
  process.env.PEXLAB_SCREENSHOTS_DIR = require('path').join(
    __dirname,
    'test-results',
    'screenshots'
  );
}
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
// The repo's venv (first on PATH under make), which has notebook and pexlab[server].
const jupyter = process.env.PEXLAB_UI_JUPYTER || 'jupyter';
// Fail early with the fix when Notebook 7 is missing (it comes with the `test` extra).
try {
  execFileSync(jupyter, ['notebook', '--version'], { stdio: 'ignore' });
} catch (error) {
  throw new Error(
    "pexlab ui-tests: `jupyter notebook` is missing: pip install -e '.[server,dev,test]' (make setup)"
  );
}

module.exports = {
  testDir: './tests/notebook7',
  reporter: [
    ['list'],
    ['html', { open: 'never', outputFolder: 'playwright-report-notebook7' }]
  ],
  outputDir: 'test-results/notebook7',
  timeout: 180 * 1000,
  workers: 1,
  retries: 0,
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    viewport: { width: 1280, height: 800 },
    video: 'off',
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      args: [
        ...(isRoot ? ['--no-sandbox'] : []),
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync'
      ]
    }
  },
  webServer: {
    command: `${jupyter} notebook --config jupyter_server_test_config.py`,
    url: `http://127.0.0.1:${port}/tree`,
    env: { ...process.env, PEXLAB_UI_PORT: port },
    timeout: 120 * 1000,
    reuseExistingServer: false,
    gracefulShutdown: { signal: 'SIGTERM', timeout: 30 * 1000 }
  }
};
