import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import type { IModelState, PexView } from '../model';
import { Artifacts } from './Artifacts';
import { BuildControls } from './BuildProgress';
import { Header } from './Header';
import { PackageList } from './PackageList';
import { PexStatus } from './PexStatus';

export interface IEnvironmentPanelProps {
  state: IModelState;
  pexView: PexView;
  trans: TranslationBundle;
  onRefresh: () => void;
  onBuild: () => void;
  onCancel: () => void;
  onInsertCells: () => void;
  onCopy: (text: string) => void;
}

/** The whole "Spark environment" panel, from the model's state. Pure: props in, callbacks out. */
export function EnvironmentPanel(props: IEnvironmentPanelProps): JSX.Element {
  const { state, trans } = props;
  const env = state.environment;

  let body: React.ReactNode;
  if (state.status === 'no-kernel' || !state.kernel) {
    body = (
      <p className="pexlab-Message pexlab-NoKernel">
        {trans.__(
          'No kernel. Open a notebook with a running kernel to see its environment.'
        )}
      </p>
    );
  } else if (state.status === 'error') {
    body = (
      <div className="pexlab-Message pexlab-LoadError" role="alert">
        <p>{trans.__('Could not read the kernel environment:')}</p>
        <p className="pexlab-Error">{state.error}</p>
        <button
          type="button"
          className="pexlab-Button pexlab-Button-secondary"
          onClick={props.onRefresh}
        >
          {trans.__('Retry')}
        </button>
      </div>
    );
  } else if (!env) {
    body = (
      <p className="pexlab-Message pexlab-Loading" aria-busy="true">
        {trans.__('Reading the kernel environment…')}
      </p>
    );
  } else {
    const pythonFor = env.python;
    const records = state.artifacts.filter(r => r.python === pythonFor);
    body = (
      <>
        <Header
          kernel={state.kernel}
          environment={env}
          trans={trans}
          onRefresh={props.onRefresh}
        />
        {state.refreshError && (
          <p className="pexlab-Warning pexlab-RefreshError" role="status">
            {trans.__('Could not refresh: %1', state.refreshError)}
          </p>
        )}
        <PexStatus view={props.pexView} pex={env.pex} trans={trans} />
        <BuildControls
          build={state.build}
          canBuild={true}
          buildError={state.buildError}
          trans={trans}
          onBuild={props.onBuild}
          onCancel={props.onCancel}
          onInsertCells={props.onInsertCells}
        />
        <Artifacts
          records={records}
          build={state.build}
          error={state.artifactsError}
          trans={trans}
          onCopy={props.onCopy}
        />
        <PackageList packages={env.distributions} trans={trans} />
      </>
    );
  }
  return (
    <div className="pexlab-Panel" data-status={state.status}>
      <h2 className="pexlab-Panel-title">{trans.__('Spark environment')}</h2>
      {body}
    </div>
  );
}
