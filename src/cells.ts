/**
 * The "Spark setup" cells: a markdown cell and a code cell calling
 * `pexlab.create_spark_session(...)`, generated from the extension's settings.
 *
 * Pure functions over plain settings plus `upsertSetupCells`, which works on a notebook's
 * shared model so that one undo step removes (or reverts) the whole insertion.
 */
import type { ISharedCell, ISharedNotebook } from '@jupyter/ydoc';

/** Python value that can appear in Spark conf. */
export type ConfValue = string | number | boolean | null;

export interface ISparkSettings {
  master: string;
  storage: string;
  appName: string;
  sparkConf: Record<string, ConfValue>;
  includeEditable: boolean;
  excludedPackages: string[];
  insertPosition: 'top' | 'below-active';
  buildBeforeInsert: boolean;
}

export const DEFAULT_SETTINGS: ISparkSettings = {
  master: 'local[2]',
  storage: '',
  appName: 'pexlab-notebook',
  sparkConf: {},
  includeEditable: true,
  excludedPackages: [],
  insertPosition: 'top',
  buildBeforeInsert: false
};

/** Cell metadata key marking the cells this extension generated. */
export const METADATA_KEY = 'pexlab';
export type SetupRole = 'setup-markdown' | 'setup-code';

/**
 * A Python string literal for `value`, like Python's `repr()` for str: single quotes unless
 * the text has single quotes and no double quotes; backslashes, the quote, and control,
 * line-separator and lone surrogate characters escaped, so the literal always parses back to
 * exactly `value`.
 */
export function pyString(value: string): string {
  const quote = value.includes("'") && !value.includes('"') ? '"' : "'";
  let out = quote;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    const code = value.charCodeAt(i);
    if (ch === '\\') {
      out += '\\\\';
    } else if (ch === quote) {
      out += '\\' + quote;
    } else if (ch === '\n') {
      out += '\\n';
    } else if (ch === '\r') {
      out += '\\r';
    } else if (ch === '\t') {
      out += '\\t';
    } else if (code < 0x20 || (code >= 0x7f && code <= 0xa0) || code === 0xad) {
      out += '\\x' + code.toString(16).padStart(2, '0');
    } else if (code === 0x2028 || code === 0x2029 || code === 0xfeff) {
      out += '\\u' + code.toString(16).padStart(4, '0');
    } else if (code >= 0xd800 && code <= 0xdbff) {
      const next = value.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        out += ch + value[i + 1]; // a valid pair: one astral character
        i++;
      } else {
        out += '\\u' + code.toString(16); // lone high surrogate
      }
    } else if (code >= 0xdc00 && code <= 0xdfff) {
      out += '\\u' + code.toString(16); // lone low surrogate
    } else {
      out += ch;
    }
  }
  return out + quote;
}

/** A Python literal for a JSON-like value (str, int/float, bool, None, list, dict). */
export function pyRepr(value: unknown): string {
  if (value === null || value === undefined) {
    return 'None';
  }
  if (typeof value === 'string') {
    return pyString(value);
  }
  if (typeof value === 'boolean') {
    return value ? 'True' : 'False';
  }
  if (typeof value === 'number') {
    if (Number.isNaN(value)) {
      return "float('nan')";
    }
    if (!Number.isFinite(value)) {
      return value > 0 ? "float('inf')" : "float('-inf')";
    }
    return String(value);
  }
  if (Array.isArray(value)) {
    return '[' + value.map(pyRepr).join(', ') + ']';
  }
  if (typeof value === 'object') {
    const items = Object.entries(value as Record<string, unknown>).map(
      ([k, v]) => `${pyString(k)}: ${pyRepr(v)}`
    );
    return '{' + items.join(', ') + '}';
  }
  return pyString(String(value));
}

function confBlock(conf: Record<string, ConfValue>): string {
  const entries = Object.entries(conf ?? {});
  if (entries.length === 0) {
    return '{}';
  }
  const lines = entries.map(
    ([k, v]) => `        ${pyString(k)}: ${pyRepr(v)},`
  );
  return '{\n' + lines.join('\n') + '\n    }';
}

/** Source of the markdown cell. */
export function markdownSource(settings: ISparkSettings): string {
  const master = settings.master || 'the default master';
  return [
    "## Spark session with this kernel's environment",
    '',
    `Executors on \`${master.replace(/`/g, "'")}\` run this kernel's Python packages, shipped as a PEX` +
      (settings.includeEditable
        ? ', with your editable projects as zips so edits ship without a rebuild.'
        : ' (editable projects left out).'),
    'Inserted by pexlab: run *Insert Spark setup cells* again to update these cells from the settings.'
  ].join('\n');
}

/** Packages Spark provides on executors; the engine leaves them out by default. */
export const DEFAULT_EXCLUDES = ['pyspark', 'py4j'];

/**
 * The full exclude list when the user excludes more than the defaults, else null (keep the
 * engine's default). Used by both the cells and the panel's build so their fingerprints match.
 */
export function excludedWithDefaults(extra: string[]): string[] | null {
  if (!extra || extra.length === 0) {
    return null;
  }
  return Array.from(new Set([...DEFAULT_EXCLUDES, ...extra]));
}

/**
 * The POST /pexlab/builds body (minus kernel_id) for these settings: the same recipe as the
 * inserted cells, so the PEX built from the panel is the one the cells reuse.
 */
export function buildRequest(settings: ISparkSettings): {
  storage?: string;
  options: { exclude?: string[]; include_editable: boolean };
} {
  const options: { exclude?: string[]; include_editable: boolean } = {
    include_editable: settings.includeEditable
  };
  const exclude = excludedWithDefaults(settings.excludedPackages);
  if (exclude) {
    options.exclude = exclude;
  }
  return settings.storage
    ? { storage: settings.storage, options }
    : { options };
}

/** Source of the code cell. */
export function codeSource(settings: ISparkSettings): string {
  const args: string[] = [];
  if (settings.master) {
    args.push(`    master=${pyString(settings.master)},`);
  }
  if (settings.storage) {
    args.push(`    storage=${pyString(settings.storage)},`);
  }
  if (settings.appName) {
    args.push(`    app_name=${pyString(settings.appName)},`);
  }
  args.push(`    conf=${confBlock(settings.sparkConf)},`);
  args.push(
    `    include_editable=${settings.includeEditable ? 'True' : 'False'},`
  );
  const excluded = excludedWithDefaults(settings.excludedPackages);
  if (excluded) {
    args.push(
      `    options=BuildOptions(exclude=(${excluded.map(pyString).join(', ')},)),`
    );
  }
  return [
    'import pexlab',
    ...(excluded ? ['from pexlab.pex_build import BuildOptions'] : []),
    '',
    '# Builds (or reuses) the PEX of this environment and uploads it with the editable zips.',
    'spark = pexlab.create_spark_session(',
    ...args,
    ')',
    'spark'
  ].join('\n');
}

export interface IUpsertResult {
  /** "inserted" the first time, "updated" when the cells were already there. */
  action: 'inserted' | 'updated';
  /** Index of the markdown cell. */
  index: number;
}

function roleOf(cell: ISharedCell): SetupRole | undefined {
  const meta = cell.getMetadata(METADATA_KEY) as
    { role?: SetupRole } | undefined;
  return meta?.role;
}

/**
 * Insert the setup cells into `notebook` (at the top, or below `activeIndex`), or update
 * the ones inserted before (found by cell metadata) in place. Runs in one transaction, so
 * a single undo reverts it.
 */
export function upsertSetupCells(
  notebook: ISharedNotebook,
  settings: ISparkSettings,
  activeIndex: number | null = null
): IUpsertResult {
  const md = markdownSource(settings);
  const code = codeSource(settings);
  let result: IUpsertResult = { action: 'inserted', index: 0 };
  notebook.transact(() => {
    let mdIndex = -1;
    let codeIndex = -1;
    notebook.cells.forEach((cell, i) => {
      const role = roleOf(cell);
      if (role === 'setup-markdown' && mdIndex < 0) {
        mdIndex = i;
      } else if (role === 'setup-code' && codeIndex < 0) {
        codeIndex = i;
      }
    });
    if (codeIndex >= 0) {
      const codeCell = notebook.getCell(codeIndex);
      if (codeCell.getSource() !== code) {
        codeCell.setSource(code);
      }
      if (mdIndex >= 0) {
        const mdCell = notebook.getCell(mdIndex);
        if (mdCell.getSource() !== md) {
          mdCell.setSource(md);
        }
      } else {
        notebook.insertCell(codeIndex, {
          cell_type: 'markdown',
          source: md,
          metadata: { [METADATA_KEY]: { role: 'setup-markdown' } }
        });
        codeIndex++;
      }
      result = {
        action: 'updated',
        index: mdIndex >= 0 ? mdIndex : codeIndex - 1
      };
      return;
    }
    if (mdIndex >= 0) {
      // Only the markdown cell survived: put the code cell back right under it.
      const mdCell = notebook.getCell(mdIndex);
      mdCell.setSource(md);
      notebook.insertCell(mdIndex + 1, {
        cell_type: 'code',
        source: code,
        metadata: { [METADATA_KEY]: { role: 'setup-code' } }
      });
      result = { action: 'updated', index: mdIndex };
      return;
    }
    const at =
      settings.insertPosition === 'below-active' && activeIndex !== null
        ? Math.min(activeIndex + 1, notebook.cells.length)
        : 0;
    notebook.insertCells(at, [
      {
        cell_type: 'markdown',
        source: md,
        metadata: { [METADATA_KEY]: { role: 'setup-markdown' } }
      },
      {
        cell_type: 'code',
        source: code,
        metadata: { [METADATA_KEY]: { role: 'setup-code' } },
        outputs: [],
        execution_count: null
      }
    ]);
    result = { action: 'inserted', index: at };
  });
  return result;
}

/** Coerce the settings registry's composite into `ISparkSettings`. */
export function normalizeSettings(
  raw: Partial<ISparkSettings> | undefined
): ISparkSettings {
  const s = { ...DEFAULT_SETTINGS, ...(raw ?? {}) };
  return {
    master: String(s.master ?? ''),
    storage: String(s.storage ?? ''),
    appName: String(s.appName ?? ''),
    sparkConf:
      s.sparkConf &&
      typeof s.sparkConf === 'object' &&
      !Array.isArray(s.sparkConf)
        ? (s.sparkConf as Record<string, ConfValue>)
        : {},
    includeEditable: s.includeEditable !== false,
    excludedPackages: Array.isArray(s.excludedPackages)
      ? s.excludedPackages.map(String)
      : [],
    insertPosition:
      s.insertPosition === 'below-active' ? 'below-active' : 'top',
    buildBeforeInsert: !!s.buildBeforeInsert
  };
}
