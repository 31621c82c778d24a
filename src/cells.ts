/**
 * The "Spark setup" cells: a markdown cell and a code cell calling
 * `pexlab.create_spark_session(...)`, generated from the extension's settings.
 *
 * Pure functions over plain settings plus `upsertSetupCells`, which works on a notebook's
 * shared model so that one undo step removes (or reverts) the whole insertion.
 */
import type { ISharedCell, ISharedNotebook } from '@jupyter/ydoc';
import type { TranslationBundle } from '@jupyterlab/translation';

import type {
  ConfValue,
  IEnvironment,
  IEnvironmentQuery,
  InsertPosition,
  ISetupPlan,
  ISparkSettings,
  MasterKind
} from './tokens';

/**
 * The settings before the registry answers (or without one). Mirrors schema/plugin.json's
 * defaults (a jest test keeps them equal); none of them is a build option default: those
 * belong to the server.
 */
export const DEFAULT_SETTINGS: ISparkSettings = {
  master: '',
  storage: '',
  appName: 'pexlab-notebook',
  sparkConf: {},
  includeEditable: true,
  excludedPackages: [],
  layout: 'zipapp',
  insertPosition: 'after-title',
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

/** A dict literal, one entry a line when it has any. */
function dictBlock(value: Record<string, unknown>): string {
  const entries = Object.entries(value ?? {});
  if (entries.length === 0) {
    return '{}';
  }
  const lines = entries.map(
    ([k, v]) => `        ${pyString(k)}: ${pyRepr(v)},`
  );
  return '{\n' + lines.join('\n') + '\n    }';
}

/**
 * The user's choices as the server wants them: the build request's `options` and the
 * environment query. Never defaults: the server resolves these against its own.
 */
export function buildQuery(settings: ISparkSettings): IEnvironmentQuery {
  return {
    options: {
      exclude_extra: [...settings.excludedPackages],
      include_editable: settings.includeEditable,
      layout: settings.layout
    },
    storage: settings.storage,
    master: settings.master
  };
}

export function masterKind(master: string): MasterKind {
  const m = master.trim();
  if (m === 'local' || /^local\[[^\]]*\]$/.test(m)) {
    return 'local';
  }
  if (m.startsWith('sc://')) {
    return 'connect';
  }
  return 'cluster';
}

/**
 * Resolve the settings with the environment response. Without one (no kernel), the cells
 * fall back on the settings alone and pass no options.
 */
export function setupPlan(
  settings: ISparkSettings,
  environment: IEnvironment | null
): ISetupPlan {
  const resolved = environment ? environment.build : null;
  // The server resolved the user's master (else its own) and read it with the engine's
  // parser: its kind is the one to trust; the local reading only without that answer.
  const master = settings.master.trim() || resolved?.master || null;
  let kind: MasterKind | null = master ? masterKind(master) : null;
  if (resolved && master === resolved.master) {
    kind =
      resolved.master_kind === null
        ? null
        : resolved.master_kind === 'local' || resolved.master_kind === 'connect'
          ? resolved.master_kind
          : 'cluster';
  }
  return {
    master,
    kind,
    storage: resolved ? resolved.storage : settings.storage || null,
    overrides: resolved?.overrides ?? {},
    appName: settings.appName,
    conf: settings.sparkConf,
    includeEditable: settings.includeEditable,
    pexlabInstalled: environment ? environment.pexlab.installed : null,
    errors: resolved?.errors ?? {}
  };
}

/**
 * One sentence saying what happens to the environment with this plan (cells and panel), in
 * the user's language: the markdown cell is read by people, like the panel.
 */
export function shippingSentence(
  plan: ISetupPlan,
  trans: TranslationBundle
): string {
  const code = (text: string) => `\`${text.replace(/`/g, "'")}\``;
  const where = plan.storage
    ? trans.__(' uploaded to %1', code(plan.storage))
    : '';
  const zips = plan.includeEditable
    ? trans.__(
        ', with your editable projects as zips so edits ship without a rebuild'
      )
    : trans.__(' (editable projects left out)');
  const master = plan.master ? code(plan.master) : '';
  switch (plan.kind) {
    case 'local':
      return trans.__(
        "Spark runs inside this kernel's process (%1), so the executors already use this kernel's packages: nothing is shipped. Set a cluster master in the settings (Spark environment › Spark master) to ship the environment.",
        master
      );
    case 'connect':
      return trans.__(
        "The Spark Connect session at %1 runs this kernel's Python packages, shipped as a PEX%2%3.",
        master,
        where,
        zips
      );
    case 'cluster':
      return trans.__(
        "Executors on %1 run this kernel's Python packages, shipped as a PEX%2%3.",
        master,
        where,
        zips
      );
    default:
      return trans.__(
        "Executors run this kernel's Python packages, shipped as a PEX unless the master is local."
      );
  }
}

/** Source of the markdown cell. */
export function markdownSource(
  plan: ISetupPlan,
  trans: TranslationBundle
): string {
  return [
    trans.__("## Spark session with this kernel's environment"),
    '',
    shippingSentence(plan, trans),
    '',
    trans.__(
      'Inserted by pexlab: run *Insert Spark setup cells* again to update these cells from the settings.'
    )
  ].join('\n');
}

/** The command that installs pexlab into a kernel (the panel's button runs it too). */
export const INSTALL_PEXLAB = '%pip install pexlab';

/** Source of the code cell. */
export function codeSource(plan: ISetupPlan): string {
  const args: string[] = [];
  if (plan.master) {
    const key = plan.kind === 'connect' ? 'remote' : 'master';
    args.push(`    ${key}=${pyString(plan.master)},`);
  }
  if (plan.storage) {
    args.push(`    storage=${pyString(plan.storage)},`);
  }
  if (plan.appName) {
    args.push(`    app_name=${pyString(plan.appName)},`);
  }
  args.push(`    conf=${dictBlock(plan.conf)},`);
  args.push(`    include_editable=${plan.includeEditable ? 'True' : 'False'},`);
  if (Object.keys(plan.overrides).length > 0) {
    args.push(`    options=${dictBlock(plan.overrides)},`);
  }
  return [
    'try:',
    '    import pexlab',
    'except ModuleNotFoundError as error:',
    '    if error.name != "pexlab":',
    '        raise',
    '    raise ModuleNotFoundError(',
    `        "pexlab is not installed in this kernel's environment: run ${INSTALL_PEXLAB} "`,
    '        "in a cell (or use Install pexlab in the Spark environment panel), then run this cell again."',
    '    ) from None',
    '',
    plan.kind === 'local'
      ? '# A local master: Spark runs in this kernel, nothing is shipped.'
      : '# Builds (or reuses) the PEX of this environment and ships it with the editable zips.',
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

/** Is `cell` a markdown cell that starts with a heading (the notebook's title)? */
function isTitle(cell: ISharedCell | undefined): boolean {
  if (!cell || cell.cell_type !== 'markdown') {
    return false;
  }
  const first = cell
    .getSource()
    .split('\n')
    .find(line => line.trim() !== '');
  return !!first && /^\s{0,3}#{1,6}\s/.test(first);
}

/** Where new setup cells go for `position`. */
export function insertIndex(
  notebook: ISharedNotebook,
  position: InsertPosition,
  activeIndex: number | null
): number {
  if (position === 'below-active' && activeIndex !== null) {
    return Math.min(activeIndex + 1, notebook.cells.length);
  }
  if (position === 'after-title' && isTitle(notebook.cells[0])) {
    return 1;
  }
  return 0;
}

/**
 * Insert the setup cells into `notebook` (after its title, at the top, or below
 * `activeIndex`), or update
 * the ones inserted before (found by cell metadata) in place. Runs in one transaction, so
 * a single undo reverts it.
 */
export function upsertSetupCells(
  notebook: ISharedNotebook,
  plan: ISetupPlan,
  trans: TranslationBundle,
  position: InsertPosition,
  activeIndex: number | null = null
): IUpsertResult {
  const md = markdownSource(plan, trans);
  const code = codeSource(plan);
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
    const at = insertIndex(notebook, position, activeIndex);
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
    layout: String(s.layout ?? DEFAULT_SETTINGS.layout),
    insertPosition: (['after-title', 'top', 'below-active'] as const).includes(
      s.insertPosition as InsertPosition
    )
      ? (s.insertPosition as InsertPosition)
      : DEFAULT_SETTINGS.insertPosition,
    buildBeforeInsert: !!s.buildBeforeInsert
  };
}
