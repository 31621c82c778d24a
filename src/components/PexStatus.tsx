import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import type { IPexStatus, PexView } from '../tokens';
import { formatAge } from './format';

export interface IPexStatusProps {
  view: PexView;
  pex: IPexStatus | null | undefined;
  trans: TranslationBundle;
  /** Current time (s since the epoch): the age ticks with it. */
  now: number;
}

function stateLabel(view: PexView, trans: TranslationBundle): string {
  switch (view) {
    case 'missing':
      return trans.__('Not built');
    case 'up-to-date':
      return trans.__('Up to date');
    case 'stale':
      return trans.__('Stale');
    case 'building':
      return trans.__('Building…');
    default:
      return trans.__('Unknown');
  }
}

/** PEX state of the kernel's environment and, when stale, what changed since the build. */
export function PexStatus(props: IPexStatusProps): JSX.Element {
  const { view, pex, trans } = props;
  const diff = pex;
  const hasDiff =
    !!diff &&
    (diff.added.length > 0 ||
      diff.removed.length > 0 ||
      diff.changed.length > 0 ||
      diff.editables_changed.length > 0 ||
      !!diff.python_changed);
  return (
    <section className="pexlab-PexStatus" aria-label={trans.__('PEX state')}>
      <div className="pexlab-PexStatus-line">
        <span className="pexlab-PexStatus-label">{trans.__('PEX')}</span>
        <span
          className={`pexlab-StateBadge pexlab-StateBadge-${view}`}
          data-state={view}
          role="status"
        >
          {stateLabel(view, trans)}
        </span>
        {pex?.built_at && (
          <span className="pexlab-PexStatus-age">
            {trans.__(
              'built %1 ago',
              formatAge(pex.built_at, props.now, trans)
            )}
          </span>
        )}
      </div>
      {view === 'missing' && (
        <p className="pexlab-PexStatus-help">
          {trans.__(
            'No PEX has been built for this interpreter yet. Build it to run Spark jobs with these packages.'
          )}
        </p>
      )}
      {pex?.state === 'stale' && (
        <div className="pexlab-Diff">
          <p className="pexlab-PexStatus-help">
            {pex.reason ||
              trans.__('The environment changed since the last build:')}
          </p>
          {hasDiff && (
            <ul className="pexlab-Diff-list">
              {pex.python_changed && (
                <li className="pexlab-Diff-changed">
                  {trans.__(
                    'Python %1 → %2',
                    pex.python_changed.old,
                    pex.python_changed.new
                  )}
                </li>
              )}
              {pex.added.map(d => (
                <li key={'a' + d.name} className="pexlab-Diff-added">
                  <span aria-hidden="true">+ </span>
                  {trans.__('added %1 %2', d.name, d.version)}
                </li>
              ))}
              {pex.removed.map(d => (
                <li key={'r' + d.name} className="pexlab-Diff-removed">
                  <span aria-hidden="true">− </span>
                  {trans.__('removed %1 %2', d.name, d.version)}
                </li>
              ))}
              {pex.changed.map(c => (
                <li key={'c' + c.name} className="pexlab-Diff-changed">
                  <span aria-hidden="true">~ </span>
                  {trans.__('%1 %2 → %3', c.name, c.old, c.new)}
                </li>
              ))}
              {pex.editables_changed.map(e => (
                <li key={'e' + e.name} className="pexlab-Diff-editable">
                  <span aria-hidden="true">✎ </span>
                  {trans.__('editable %1 %2', e.name, e.change)}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </section>
  );
}
