const jestJupyterLab = require('@jupyterlab/testutils/lib/jest-config');

const baseConfig = jestJupyterLab(__dirname);

// ES modules shipped untranspiled must go through babel. Merge testutils' own list with ours
// into ONE regex: with two patterns in transformIgnorePatterns a file is skipped as soon as
// either matches, so a package allowed by one pattern is still ignored by the other.
const baseList = /\(\?!(.*)\)\.\+$/.exec(
  baseConfig.transformIgnorePatterns[0]
)[1];
const esModules = [baseList, '@jupyterlab/', '@lumino/'].join('|');

module.exports = {
  ...baseConfig,
  automock: false,
  collectCoverageFrom: [
    'src/**/*.{ts,tsx}',
    '!src/**/*.d.ts',
    '!src/**/.ipynb_checkpoints/*'
  ],
  coverageReporters: ['lcov', 'text'],
  reporters: ['default'],
  testRegex: 'src/.*/.*.spec.ts[x]?$',
  modulePathIgnorePatterns: [
    '<rootDir>/.venv/',
    '<rootDir>/.cache/',
    '<rootDir>/pexlab/',
    '<rootDir>/ui-tests/',
    '<rootDir>/lib/'
  ],
  transformIgnorePatterns: [`/node_modules/(?!${esModules}).+`]
};
