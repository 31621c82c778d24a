import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import type { IEnvironment, IKernelRef } from '../tokens';
import { PathText } from './PathText';

export interface IHeaderProps {
  kernel: IKernelRef;
  environment: IEnvironment;
  trans: TranslationBundle;
  onRefresh: () => void;
}

/** Interpreter, Python version, environment kind and package count of the kernel. */
export function Header(props: IHeaderProps): JSX.Element {
  const { kernel, environment: env, trans } = props;
  const editables = env.distributions.filter(d => d.editable).length;
  return (
    <section
      className="pexlab-Header"
      aria-label={trans.__('Kernel environment')}
    >
      <div className="pexlab-Header-title">
        <div className="pexlab-Header-names">
          <span className="pexlab-Header-kernel" title={kernel.id}>
            {kernel.label || kernel.name || kernel.id}
          </span>
          {kernel.path && (
            <span className="pexlab-Header-notebook" title={kernel.path}>
              {kernel.path.split('/').pop()}
            </span>
          )}
        </div>
        <button
          type="button"
          className="pexlab-Button pexlab-Button-secondary pexlab-RefreshButton"
          onClick={props.onRefresh}
          aria-label={trans.__('Refresh the environment')}
          title={trans.__('Refresh the environment')}
        >
          {trans.__('Refresh')}
        </button>
      </div>
      <dl className="pexlab-Header-facts">
        <dt>{trans.__('Interpreter')}</dt>
        <dd className="pexlab-Header-python" title={env.python}>
          <PathText path={env.python} />
        </dd>
        <dt>{trans.__('Python')}</dt>
        <dd className="pexlab-Header-version">{env.version}</dd>
        <dt>{trans.__('Environment')}</dt>
        <dd className="pexlab-Header-kind">{env.kind}</dd>
        <dt>{trans.__('Packages')}</dt>
        <dd className="pexlab-Header-count">
          {env.distributions.length}
          {editables > 0 &&
            ' ' + trans._n('(%1 editable)', '(%1 editable)', editables)}
        </dd>
      </dl>
      {env.warnings.length > 0 && (
        <ul className="pexlab-Warnings">
          {env.warnings.map((w, i) => (
            <li key={i}>{w}</li>
          ))}
        </ul>
      )}
    </section>
  );
}
