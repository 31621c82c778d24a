/**
 * Playwright configuration: galata's defaults, Debian's Chromium (no browser download), and a
 * Jupyter server on a free port, started with jupyter_server_test_config.py next to the
 * embedded Spark cluster (../scripts/lab.py, as `make lab` does).
 */
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');
const { ensureUiEnv } = require('./ui-env');

const { port, stateDir } = ensureUiEnv();
// The repo's venv (first on PATH under make), which has pexlab and pyspark.
const python = process.env.PEXLAB_UI_PYTHON || 'python';
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

module.exports = {
  ...baseConfig,
  // Notebook 7 has its own run (playwright.notebook.config.js: its own server, no galata).
  testIgnore: ['**/notebook7/**'],
  // Builds and Spark jobs are real: give them time (assertions still wait on UI state).
  reporter: [['list'], ['html', { open: 'never' }]],
  timeout: 240 * 1000,
  workers: 1,
  retries: 0,
  use: {
    ...baseConfig.use,
    baseURL: `http://127.0.0.1:${port}`,
    video: 'off',
    trace: 'retain-on-failure',
    launchOptions: {
      ...(baseConfig.use?.launchOptions ?? {}),
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
    // The launcher starts a local standalone cluster whose workers' Python is a bare venv, runs
    // JupyterLab with --PexLab.master set to it (and PEXLAB_DEMO_MASTER for the demo notebook),
    // and stops the cluster by PID when JupyterLab ends. `{master}` is the launcher's
    // placeholder for the master URL; `${stateDir}/cluster.json` names it for the specs.
    command: [
      python,
      '../scripts/lab.py',
      '--state-dir',
      JSON.stringify(stateDir),
      '--',
      'jupyter lab --config jupyter_server_test_config.py',
      "'--PexLab.master={master}'"
    ].join(' '),
    url: `http://127.0.0.1:${port}/lab`,
    // Playwright hands named groups to the specs as environment variables (upper-cased): the
    // specs find the embedded cluster in PEXLAB_SPARK_MASTER once JupyterLab is up.
    wait: {
      stderr:
        /Spark master (?<pexlab_spark_master>spark:\/\/127\.0\.0\.1:\d+)[\s\S]*is running at/
    },
    // The cluster comes first: on a busy machine its start alone can take a minute.
    timeout: 300 * 1000,
    reuseExistingServer: false,
    // SIGTERM to the server's process group, not the default SIGKILL: the launcher then stops
    // JupyterLab and the Spark daemons (which run in sessions of their own, out of reach of a
    // group kill).
    gracefulShutdown: { signal: 'SIGTERM', timeout: 120 * 1000 }
  }
};
