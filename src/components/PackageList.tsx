import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import type { IDistribution } from '../tokens';
import { VirtualList } from './VirtualList';

export type SortKey = 'name' | 'version' | 'editable';

export interface IPackageListProps {
  packages: IDistribution[];
  trans: TranslationBundle;
  /** Initial filter text (tests, restored state). */
  initialFilter?: string;
}

/** Height of a package row in px (one line: the virtual list needs it fixed). */
export const ROW_HEIGHT = 24;
/** Rows in view at most before the list scrolls. */
const VIEWPORT_ROWS = 16;
const ROW_STYLE: React.CSSProperties = { height: ROW_HEIGHT };

/**
 * A name as packaging compares names (PEP 503): lowercase, and runs of `-`, `_` and `.`
 * alike, so that a filter typed "fakepkg_99" finds "fakepkg-99".
 */
export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

function matches(pkg: IDistribution, needle: string): boolean {
  if (!needle) {
    return true;
  }
  return (
    normalizeName(pkg.name).includes(normalizeName(needle)) ||
    pkg.version.toLowerCase().includes(needle) ||
    (needle === 'editable' && pkg.editable) ||
    (!!pkg.project_dir && pkg.project_dir.toLowerCase().includes(needle))
  );
}

/** Natural order: "fakepkg-96" before "fakepkg-959", "1.10" after "1.9"; case aside. */
const collator = new Intl.Collator(undefined, {
  numeric: true,
  sensitivity: 'base'
});

function compare(a: IDistribution, b: IDistribution, key: SortKey): number {
  if (key === 'editable' && a.editable !== b.editable) {
    return a.editable ? -1 : 1;
  }
  if (key === 'version') {
    const v = collator.compare(a.version, b.version);
    if (v !== 0) {
      return v;
    }
  }
  return collator.compare(a.name, b.name);
}

const Row = React.memo(function Row(props: {
  pkg: IDistribution;
  trans: TranslationBundle;
  /** Position in the filtered list, and its length (only some rows are in the DOM). */
  index: number;
  setSize: number;
}): JSX.Element {
  const { pkg, trans } = props;
  return (
    <li
      className="pexlab-PackageList-row"
      data-package={pkg.name}
      title={pkg.location}
      style={ROW_STYLE}
      aria-posinset={props.index + 1}
      aria-setsize={props.setSize}
    >
      <span className="pexlab-PackageList-name">{pkg.name}</span>
      <span className="pexlab-PackageList-version">{pkg.version}</span>
      {pkg.editable && (
        <span
          className="pexlab-Badge pexlab-Badge-editable"
          title={trans.__(
            'Installed in editable mode from %1',
            pkg.project_dir ?? ''
          )}
        >
          {trans.__('editable')}
        </span>
      )}
      {pkg.editable && pkg.project_dir && (
        <span className="pexlab-PackageList-project" title={pkg.project_dir}>
          {pkg.project_dir}
        </span>
      )}
    </li>
  );
});

/**
 * Filterable, sortable list of a kernel's distributions. Only the rows in view are rendered
 * (VirtualList) and the filter is applied through `useDeferredValue`, so typing and
 * scrolling stay smooth with tens of thousands of packages. The filter, sort buttons and
 * count form a sticky header: they stay in view while the panel scrolls.
 */
export function PackageList(props: IPackageListProps): JSX.Element {
  const { packages, trans } = props;
  const [filter, setFilter] = React.useState(props.initialFilter ?? '');
  const [sortKey, setSortKey] = React.useState<SortKey>('name');
  const [descending, setDescending] = React.useState(false);
  const deferredFilter = React.useDeferredValue(filter);

  const sorted = React.useMemo(() => {
    const copy = [...packages];
    copy.sort((a, b) => compare(a, b, sortKey));
    if (descending) {
      copy.reverse();
    }
    return copy;
  }, [packages, sortKey, descending]);

  const visible = React.useMemo(() => {
    const needle = deferredFilter.trim().toLowerCase();
    return sorted.filter(p => matches(p, needle));
  }, [sorted, deferredFilter]);

  const sortButton = (key: SortKey, label: string) => {
    const active = sortKey === key;
    return (
      <button
        type="button"
        className={
          'pexlab-SortButton' + (active ? ' pexlab-SortButton-active' : '')
        }
        aria-pressed={active}
        aria-label={trans.__('Sort by %1', label)}
        onClick={() => {
          if (active) {
            setDescending(!descending);
          } else {
            setSortKey(key);
            setDescending(false);
          }
        }}
      >
        {label}
        {active ? (descending ? ' ▼' : ' ▲') : ''}
      </button>
    );
  };

  const editableCount = packages.filter(p => p.editable).length;

  return (
    <section className="pexlab-PackageList" aria-label={trans.__('Packages')}>
      <div className="pexlab-PackageList-header">
        <div className="pexlab-PackageList-toolbar">
          <input
            type="search"
            className="pexlab-PackageList-filter jp-mod-styled"
            placeholder={trans.__('Filter packages')}
            aria-label={trans.__('Filter packages')}
            value={filter}
            onChange={e => setFilter(e.target.value)}
          />
          <div
            className="pexlab-PackageList-sort"
            role="group"
            aria-label={trans.__('Sort')}
          >
            {sortButton('name', trans.__('Name'))}
            {sortButton('version', trans.__('Version'))}
            {sortButton('editable', trans.__('Editable'))}
          </div>
        </div>
        <div className="pexlab-PackageList-count" aria-live="polite">
          {trans._n(
            '%2 of %1 package',
            '%2 of %1 packages',
            packages.length,
            visible.length
          )}
          {editableCount > 0 &&
            ' · ' + trans._n('%1 editable', '%1 editable', editableCount)}
        </div>
      </div>
      {visible.length === 0 ? (
        <p className="pexlab-PackageList-empty">
          {trans.__('No package matches “%1”.', filter)}
        </p>
      ) : (
        <VirtualList
          items={visible}
          rowHeight={ROW_HEIGHT}
          maxRows={VIEWPORT_ROWS}
          resetKey={`${sortKey} ${descending} ${deferredFilter}`}
          label={trans.__('Package list')}
          className="pexlab-PackageList-viewport"
          listClassName="pexlab-PackageList-rows"
          renderRow={(pkg, index) => (
            <Row
              key={pkg.name}
              pkg={pkg}
              trans={trans}
              index={index}
              setSize={visible.length}
            />
          )}
        />
      )}
    </section>
  );
}
