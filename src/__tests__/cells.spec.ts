import { YNotebook } from '@jupyter/ydoc';
import { nullTranslator } from '@jupyterlab/translation';
import { execFileSync } from 'child_process';

import {
  buildQuery,
  codeSource,
  DEFAULT_SETTINGS,
  markdownSource,
  masterKind,
  METADATA_KEY,
  normalizeSettings,
  pyRepr,
  pyString,
  setupPlan,
  upsertSetupCells
} from '../cells';
import type { IEnvironment, ISetupPlan, ISparkSettings } from '../tokens';
import schema from '../../schema/plugin.json';
import { environment, resolved } from './fakes';

const trans = nullTranslator.load('pexlab');

const PYTHON = process.env.PEXLAB_TEST_PYTHON || 'python3';

/** Evaluate Python literals with the real interpreter and return them as JSON. */
function pythonEval(literals: string[]): unknown[] {
  const script =
    'import ast, json, sys\n' +
    'src = json.load(sys.stdin)\n' +
    'print(json.dumps([ast.literal_eval(s) for s in src], ensure_ascii=True))';
  const out = execFileSync(PYTHON, ['-c', script], {
    input: JSON.stringify(literals)
  });
  return JSON.parse(out.toString());
}

/** Parse the generated cell with Python's ast and return the call's keyword arguments. */
function pythonCallKwargs(source: string): Record<string, unknown> {
  const script =
    'import ast, json, sys\n' +
    'tree = ast.parse(sys.stdin.read())\n' +
    'call = next(n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "create_spark_session")\n' +
    'print(json.dumps({k.arg: ast.literal_eval(k.value) for k in call.keywords}))';
  const out = execFileSync(PYTHON, ['-c', script], { input: source });
  return JSON.parse(out.toString());
}

const tricky = [
  '',
  'plain',
  "it's",
  'say "hi"',
  `both ' and "`,
  'back\\slash\\',
  'line\nbreak\r\ttab',
  'nul\u0000 bell\u0007 del\u007f',
  'unicode: é ü 漢字 🚀',
  'sep\u2028\u2029 bom\ufeff',
  'lone \ud800 surrogate',
  '\'\'\'triple\'\'\' """quotes"""',
  '{braces} %s %(x)s',
  '\\x41 \\n literal backslash-n'
];

describe('pyString / pyRepr', () => {
  it('round-trips every string through Python exactly', () => {
    // JSON cannot carry a lone surrogate from Python back; compare those by code points.
    const literals = tricky.map(pyString);
    const back = pythonEval(literals.filter((_, i) => i !== 10));
    expect(back).toEqual(tricky.filter((_, i) => i !== 10));
    const lone = execFileSync(PYTHON, [
      '-c',
      `import ast; print([hex(ord(c)) for c in ast.literal_eval(${JSON.stringify(literals[10])})])`
    ]).toString();
    expect(lone).toContain("'0xd800'");
  });

  it('writes Python literals for conf values', () => {
    const value = {
      s: "x'y",
      n: 3,
      f: 1.5,
      t: true,
      F: false,
      none: null,
      list: ['a', 2]
    };
    expect(pythonEval([pyRepr(value)])[0]).toEqual(value);
    expect(pyRepr(true)).toBe('True');
    expect(pyRepr(null)).toBe('None');
  });
});

/** The server's answer for a kernel under non-default settings (c.PexLab.default_excludes). */
function serverEnv(extra: Partial<IEnvironment['build']> = {}): IEnvironment {
  return environment({
    build: resolved({
      options: { exclude: ['py4j', 'pyspark', 'torch'], include: [] },
      overrides: { exclude: ['py4j', 'pyspark', 'torch'], zip_level: 3 },
      storage: 's3://bucket/pexlab',
      master: 'spark://cluster:7077',
      ...extra
    }),
    pexlab: { installed: true, version: '0.1.0' }
  });
}

function plan(extra: Partial<ISetupPlan> = {}): ISetupPlan {
  return {
    ...setupPlan(DEFAULT_SETTINGS, serverEnv()),
    ...extra
  };
}

describe('setupPlan', () => {
  it("passes exactly the server's overrides and storage, and its master when the setting is empty", () => {
    const p = setupPlan(
      { ...DEFAULT_SETTINGS, storage: 'ignored://the server resolved it' },
      serverEnv()
    );
    expect(p.master).toBe('spark://cluster:7077');
    expect(p.kind).toBe('cluster');
    expect(p.storage).toBe('s3://bucket/pexlab');
    expect(p.overrides).toEqual({
      exclude: ['py4j', 'pyspark', 'torch'],
      zip_level: 3
    });
    expect(p.pexlabInstalled).toBe(true);
  });

  it("prefers the user's master; null storage means nothing uploaded", () => {
    const p = setupPlan(
      { ...DEFAULT_SETTINGS, master: 'local[*]' },
      serverEnv({ storage: null })
    );
    expect(p.master).toBe('local[*]');
    expect(p.kind).toBe('local');
    expect(p.storage).toBeNull();
  });

  it('falls back on the settings alone without a server answer', () => {
    const p = setupPlan(
      { ...DEFAULT_SETTINGS, master: '', storage: 'file:///shared' },
      null
    );
    expect(p.master).toBeNull();
    expect(p.storage).toBe('file:///shared');
    expect(p.overrides).toEqual({});
    expect(p.pexlabInstalled).toBeNull();
  });
});

describe('masterKind', () => {
  it('tells local, Spark Connect and cluster masters apart', () => {
    expect(masterKind('local')).toBe('local');
    expect(masterKind('local[2]')).toBe('local');
    expect(masterKind('local[*]')).toBe('local');
    expect(masterKind('sc://host:15002')).toBe('connect');
    expect(masterKind('spark://h:7077')).toBe('cluster');
    expect(masterKind('yarn')).toBe('cluster');
    expect(masterKind('local-cluster[2,1,1024]')).toBe('cluster');
  });
});

describe('codeSource', () => {
  const settings: ISparkSettings = {
    ...DEFAULT_SETTINGS,
    master: 'spark://127.0.0.1:7077',
    appName: 'my "app"\nline2',
    sparkConf: {
      'spark.executor.memory': '2g',
      "spark.weird'key": 'a\\b',
      'spark.executor.cores': 2,
      'spark.dynamicAllocation.enabled': false
    },
    includeEditable: false,
    excludedPackages: ['torch']
  };

  it("is valid Python passing the settings and exactly the server's overrides and storage", () => {
    const env = serverEnv({ storage: "s3://bucket/it's\\here" });
    const kwargs = pythonCallKwargs(codeSource(setupPlan(settings, env)));
    expect(kwargs).toEqual({
      master: settings.master,
      storage: "s3://bucket/it's\\here",
      app_name: settings.appName,
      conf: settings.sparkConf,
      include_editable: false,
      options: env.build!.overrides
    });
  });

  it('passes no options when the server resolved the defaults, and no storage when none', () => {
    const kwargs = pythonCallKwargs(
      codeSource(plan({ overrides: {}, storage: null }))
    );
    expect(kwargs).toEqual({
      master: 'spark://cluster:7077',
      app_name: DEFAULT_SETTINGS.appName,
      conf: {},
      include_editable: true
    });
  });

  it('uses remote= for a Spark Connect URL', () => {
    const source = codeSource(
      setupPlan(
        { ...DEFAULT_SETTINGS, master: 'sc://127.0.0.1:15002' },
        serverEnv()
      )
    );
    const kwargs = pythonCallKwargs(source);
    expect(kwargs.remote).toBe('sc://127.0.0.1:15002');
    expect(kwargs.master).toBeUndefined();
  });

  it('fails with the install hint when the kernel lacks pexlab', () => {
    // Make `import pexlab` fail the way it does in a kernel without it.
    const script =
      "import sys\nsys.modules['pexlab'] = None\n" +
      codeSource(plan()).split('\nspark = ')[0];
    let stderr = '';
    try {
      execFileSync(PYTHON, ['-c', script], { stdio: 'pipe' });
    } catch (error) {
      stderr = String((error as { stderr: Buffer }).stderr);
    }
    expect(stderr).toContain('ModuleNotFoundError: pexlab is not installed');
    expect(stderr).toContain('%pip install pexlab');
  });

  it('lets other import errors through unchanged', () => {
    const script =
      "import sys\nsys.modules['pexlab'] = None\n" +
      codeSource(plan())
        .split('\nspark = ')[0]
        .replace('import pexlab', 'import pexlab_dependency_that_is_missing');
    let stderr = '';
    try {
      execFileSync(PYTHON, ['-c', script], { stdio: 'pipe' });
    } catch (error) {
      stderr = String((error as { stderr: Buffer }).stderr);
    }
    expect(stderr).toContain(
      "No module named 'pexlab_dependency_that_is_missing'"
    );
    expect(stderr).not.toContain('%pip install pexlab');
  });
});

describe('markdownSource', () => {
  it('says nothing is shipped with a local master', () => {
    const md = markdownSource(
      plan({ master: 'local[*]', kind: 'local' }),
      trans
    );
    expect(md).toContain('nothing is shipped');
    expect(md).not.toContain('shipped as a PEX');
  });

  it('says the PEX and zips are shipped, and where, with a cluster master', () => {
    const md = markdownSource(plan(), trans);
    expect(md).toContain('`spark://cluster:7077`');
    expect(md).toContain('shipped as a PEX uploaded to `s3://bucket/pexlab`');
    expect(md).toContain('editable projects as zips');
    const noZips = markdownSource(plan({ includeEditable: false }), trans);
    expect(noZips).toContain('editable projects left out');
  });
});

function notebookWith(sources: string[]): YNotebook {
  const nb = YNotebook.create({});
  nb.insertCells(
    0,
    sources.map(source => ({ cell_type: 'code', source }))
  );
  // The cells above are the document's starting point, not an edit to undo.
  nb.undoManager?.clear();
  return nb;
}

function roles(nb: YNotebook): Array<string | undefined> {
  return nb.cells.map(c => (c.getMetadata(METADATA_KEY) as any)?.role);
}

describe('upsertSetupCells', () => {
  it("inserts after the notebook's leading markdown title by default", () => {
    const nb = notebookWith(['a = 1']);
    nb.insertCell(0, {
      cell_type: 'markdown',
      source: '# My analysis\n\nIntro.'
    });
    const result = upsertSetupCells(
      nb,
      plan(),
      trans,
      DEFAULT_SETTINGS.insertPosition,
      null
    );
    expect(result).toEqual({ action: 'inserted', index: 1 });
    expect(roles(nb)).toEqual([
      undefined,
      'setup-markdown',
      'setup-code',
      undefined
    ]);
    // No title first: at the top.
    const plain = notebookWith(['a = 1']);
    expect(
      upsertSetupCells(
        plain,
        plan(),
        trans,
        DEFAULT_SETTINGS.insertPosition,
        null
      ).index
    ).toBe(0);
    // "top" means the very top, title or not.
    const titled = notebookWith(['a = 1']);
    titled.insertCell(0, { cell_type: 'markdown', source: '# Title' });
    expect(upsertSetupCells(titled, plan(), trans, 'top', null).index).toBe(0);
  });

  it('inserts a markdown and a code cell at the top', () => {
    const nb = notebookWith(['a = 1', 'b = 2']);
    const result = upsertSetupCells(nb, plan(), trans, 'top', 1);
    expect(result).toEqual({ action: 'inserted', index: 0 });
    expect(nb.cells.map(c => c.cell_type)).toEqual([
      'markdown',
      'code',
      'code',
      'code'
    ]);
    expect(roles(nb)).toEqual([
      'setup-markdown',
      'setup-code',
      undefined,
      undefined
    ]);
    expect(nb.getCell(1).getSource()).toContain('pexlab.create_spark_session(');
  });

  it('inserts below the active cell when configured', () => {
    const nb = notebookWith(['a = 1', 'b = 2', 'c = 3']);
    expect(upsertSetupCells(nb, plan(), trans, 'below-active', 1)).toEqual({
      action: 'inserted',
      index: 2
    });
    expect(nb.cells.map(c => c.getSource().slice(0, 5))).toEqual([
      'a = 1',
      'b = 2',
      '## Sp',
      'try:\n',
      'c = 3'
    ]);
  });

  it('updates its cells in place instead of adding duplicates', () => {
    const nb = notebookWith(['a = 1']);
    upsertSetupCells(nb, plan(), trans, 'top', 0);
    // The user moves on, adds cells above; the setup cells are found by metadata.
    nb.insertCell(0, { cell_type: 'code', source: 'first()' });
    const changed = plan({ master: 'spark://other:7077' });
    const result = upsertSetupCells(nb, changed, trans, 'top', 0);
    expect(result).toEqual({ action: 'updated', index: 1 });
    expect(nb.cells.length).toBe(4);
    expect(roles(nb).filter(Boolean)).toEqual(['setup-markdown', 'setup-code']);
    expect(nb.getCell(2).getSource()).toContain("master='spark://other:7077'");
    // Same settings again: nothing changes at all.
    const before = nb.toJSON();
    expect(upsertSetupCells(nb, changed, trans, 'top', 0).action).toBe(
      'updated'
    );
    expect(nb.toJSON()).toEqual(before);
  });

  it('restores a deleted code cell under the surviving markdown cell', () => {
    const nb = notebookWith(['a = 1']);
    upsertSetupCells(nb, plan(), trans, 'top', 0);
    nb.deleteCell(1);
    upsertSetupCells(nb, plan(), trans, 'top', 0);
    expect(roles(nb)).toEqual(['setup-markdown', 'setup-code', undefined]);
  });

  it('is undone in one step', () => {
    const nb = notebookWith(['a = 1', 'b = 2']);
    const before = nb.toJSON();
    upsertSetupCells(nb, plan(), trans, 'top', 0);
    expect(nb.cells.length).toBe(4);
    expect(nb.canUndo()).toBe(true);
    nb.undo();
    expect(nb.toJSON()).toEqual(before);
  });
});

describe('buildQuery', () => {
  it("sends only the user's choices, never defaults", () => {
    expect(buildQuery(DEFAULT_SETTINGS)).toEqual({
      options: { exclude_extra: [], include_editable: true, layout: 'zipapp' },
      storage: '',
      master: ''
    });
    expect(
      buildQuery({
        ...DEFAULT_SETTINGS,
        storage: 's3://b/p',
        includeEditable: false,
        excludedPackages: ['torch'],
        layout: 'layers'
      })
    ).toEqual({
      options: {
        exclude_extra: ['torch'],
        include_editable: false,
        layout: 'layers'
      },
      storage: 's3://b/p',
      master: ''
    });
  });
});

describe('settings', () => {
  it('has the schema defaults (one owner: schema/plugin.json)', () => {
    const defaults = Object.fromEntries(
      Object.entries(schema.properties).map(([k, v]) => [
        k,
        (v as { default: unknown }).default
      ])
    );
    expect(DEFAULT_SETTINGS).toEqual(defaults);
  });

  it('fills defaults and rejects wrong shapes', () => {
    const s = normalizeSettings({
      sparkConf: ['not', 'an', 'object'] as any,
      insertPosition: 'somewhere' as any,
      excludedPackages: 'x' as any
    });
    expect(s.sparkConf).toEqual({});
    expect(s.insertPosition).toBe('after-title');
    expect(s.excludedPackages).toEqual([]);
    expect(s.master).toBe('');
  });
});
