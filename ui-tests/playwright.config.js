/**
 * Playwright configuration: galata's defaults, Debian's Chromium (no browser download),
 * and a Jupyter server started with jupyter_server_test_config.py.
 */
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');

const port = process.env.PEXLAB_UI_PORT || '8888';
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

module.exports = {
  ...baseConfig,
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
    command: 'jupyter lab --config jupyter_server_test_config.py',
    url: `http://127.0.0.1:${port}/lab`,
    timeout: 120 * 1000,
    reuseExistingServer: false
  }
};
