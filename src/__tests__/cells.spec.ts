import { YNotebook } from '@jupyter/ydoc';
import { execFileSync } from 'child_process';

import {
  buildRequest,
  DEFAULT_SETTINGS,
  ISparkSettings,
  METADATA_KEY,
  codeSource,
  normalizeSettings,
  pyRepr,
  pyString,
  upsertSetupCells
} from '../cells';

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
    'def value(node):\n' +
    '    if isinstance(node, ast.Call):  # BuildOptions(exclude=(...))\n' +
    '        return {node.func.id: {k.arg: list(ast.literal_eval(k.value)) for k in node.keywords}}\n' +
    '    return ast.literal_eval(node)\n' +
    'print(json.dumps({k.arg: value(k.value) for k in call.keywords}))';
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

describe('codeSource', () => {
  const settings: ISparkSettings = {
    ...DEFAULT_SETTINGS,
    master: 'spark://127.0.0.1:7077',
    storage: "s3://bucket/it's\\here",
    appName: 'my "app"\nline2',
    sparkConf: {
      'spark.executor.memory': '2g',
      "spark.weird'key": 'a\\b',
      'spark.executor.cores': 2,
      'spark.dynamicAllocation.enabled': false
    },
    includeEditable: false,
    excludedPackages: ['torch', 'tensorflow']
  };

  it('is valid Python that passes every setting unchanged', () => {
    const kwargs = pythonCallKwargs(codeSource(settings));
    expect(kwargs).toEqual({
      master: settings.master,
      storage: settings.storage,
      app_name: settings.appName,
      conf: settings.sparkConf,
      include_editable: false,
      options: {
        BuildOptions: { exclude: ['pyspark', 'py4j', 'torch', 'tensorflow'] }
      }
    });
    expect(codeSource(settings)).toContain(
      'from pexlab.pex_build import BuildOptions'
    );
  });

  it('leaves out empty master and storage', () => {
    const kwargs = pythonCallKwargs(
      codeSource({ ...DEFAULT_SETTINGS, master: '', storage: '' })
    );
    expect(kwargs).toEqual({
      app_name: DEFAULT_SETTINGS.appName,
      conf: {},
      include_editable: true
    });
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
  it('inserts a markdown and a code cell at the top', () => {
    const nb = notebookWith(['a = 1', 'b = 2']);
    const result = upsertSetupCells(nb, DEFAULT_SETTINGS, 1);
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
    const settings = {
      ...DEFAULT_SETTINGS,
      insertPosition: 'below-active' as const
    };
    expect(upsertSetupCells(nb, settings, 1)).toEqual({
      action: 'inserted',
      index: 2
    });
    expect(nb.cells.map(c => c.getSource().slice(0, 5))).toEqual([
      'a = 1',
      'b = 2',
      '## Sp',
      'impor',
      'c = 3'
    ]);
  });

  it('updates its cells in place instead of adding duplicates', () => {
    const nb = notebookWith(['a = 1']);
    upsertSetupCells(nb, DEFAULT_SETTINGS, 0);
    // The user moves on, adds cells above; the setup cells are found by metadata.
    nb.insertCell(0, { cell_type: 'code', source: 'first()' });
    const changed = { ...DEFAULT_SETTINGS, master: 'spark://other:7077' };
    const result = upsertSetupCells(nb, changed, 0);
    expect(result).toEqual({ action: 'updated', index: 1 });
    expect(nb.cells.length).toBe(4);
    expect(roles(nb).filter(Boolean)).toEqual(['setup-markdown', 'setup-code']);
    expect(nb.getCell(2).getSource()).toContain("master='spark://other:7077'");
    // Same settings again: nothing changes at all.
    const before = nb.toJSON();
    expect(upsertSetupCells(nb, changed, 0).action).toBe('updated');
    expect(nb.toJSON()).toEqual(before);
  });

  it('restores a deleted code cell under the surviving markdown cell', () => {
    const nb = notebookWith(['a = 1']);
    upsertSetupCells(nb, DEFAULT_SETTINGS, 0);
    nb.deleteCell(1);
    upsertSetupCells(nb, DEFAULT_SETTINGS, 0);
    expect(roles(nb)).toEqual(['setup-markdown', 'setup-code', undefined]);
  });

  it('is undone in one step', () => {
    const nb = notebookWith(['a = 1', 'b = 2']);
    const before = nb.toJSON();
    upsertSetupCells(nb, DEFAULT_SETTINGS, 0);
    expect(nb.cells.length).toBe(4);
    expect(nb.canUndo()).toBe(true);
    nb.undo();
    expect(nb.toJSON()).toEqual(before);
  });
});

describe('buildRequest', () => {
  it('uses the server defaults unless the settings say otherwise', () => {
    expect(buildRequest(DEFAULT_SETTINGS)).toEqual({
      options: { include_editable: true }
    });
  });

  it('sends the same excludes as the cells and the storage', () => {
    const settings = {
      ...DEFAULT_SETTINGS,
      storage: 's3://b/p',
      includeEditable: false,
      excludedPackages: ['torch', 'pyspark']
    };
    expect(buildRequest(settings)).toEqual({
      storage: 's3://b/p',
      options: {
        include_editable: false,
        exclude: ['pyspark', 'py4j', 'torch']
      }
    });
    expect(pythonCallKwargs(codeSource(settings)).options).toEqual({
      BuildOptions: { exclude: ['pyspark', 'py4j', 'torch'] }
    });
  });
});

describe('normalizeSettings', () => {
  it('fills defaults and rejects wrong shapes', () => {
    const s = normalizeSettings({
      sparkConf: ['not', 'an', 'object'] as any,
      insertPosition: 'somewhere' as any,
      excludedPackages: 'x' as any
    });
    expect(s.sparkConf).toEqual({});
    expect(s.insertPosition).toBe('top');
    expect(s.excludedPackages).toEqual([]);
    expect(s.master).toBe(DEFAULT_SETTINGS.master);
  });
});
