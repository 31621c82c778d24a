import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { currentFingerprint } from '../model';
import type {
  IArtifactRecord,
  IModelState,
  ISetupPlan,
  PexView
} from '../tokens';
import { Artifacts } from './Artifacts';
import { BuildControls } from './BuildProgress';
import { Header } from './Header';
import { PackageList } from './PackageList';
import { PexStatus } from './PexStatus';
import {
  ExcludedPackages,
  PexlabMissing,
  SettingsCheck,
  Shipping
} from './Setup';

export interface IEnvironmentPanelProps {
  state: IModelState;
  pexView: PexView;
  trans: TranslationBundle;
  onRefresh: () => void;
  onBuild: () => void;
  onCancel: () => void;
  onInsertCells: () => void;
  onCopy: (text: string) => void;
  onToggleLog: (open: boolean) => void;
  onInstallPexlab: () => void;
  /** `%pip install pexlab` runs in the kernel. */
  installing: boolean;
  /** Is the build log expanded? */
  logOpen: boolean;
  /** What the setup cells pass and say. */
  plan: ISetupPlan;
  /** Current time (s since the epoch): ages and elapsed times tick with it. */
  now: number;
}

/** This interpreter's cached PEXes: the current one first, then newest first. */
function recordsFor(
  records: IArtifactRecord[],
  python: string,
  current: string | null
): IArtifactRecord[] {
  return records
    .filter(r => r.python === python)
    .map((r, i) => ({ r, i }))
    .sort((a, b) => {
      const ac = a.r.fingerprint === current ? 0 : 1;
      const bc = b.r.fingerprint === current ? 0 : 1;
      return ac - bc || a.i - b.i;
    })
    .map(x => x.r);
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
    const current = currentFingerprint(env);
    const records = recordsFor(state.artifacts, env.python, current);
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
        {!env.pexlab.installed && (
          <PexlabMissing
            trans={trans}
            installing={props.installing}
            onInstall={props.onInstallPexlab}
          />
        )}
        <PexStatus
          view={props.pexView}
          pex={env.pex}
          trans={trans}
          now={props.now}
        />
        <BuildControls
          build={state.build}
          canBuild={true}
          buildError={state.buildError}
          trans={trans}
          onBuild={props.onBuild}
          onCancel={props.onCancel}
          onInsertCells={props.onInsertCells}
          logOpen={props.logOpen}
          onToggleLog={props.onToggleLog}
          now={props.now}
        />
        <SettingsCheck plan={props.plan} trans={trans} />
        <Shipping plan={props.plan} trans={trans} />
        <ExcludedPackages excluded={env.excluded} trans={trans} />
        <Artifacts
          records={records}
          build={state.build}
          current={current}
          zips={state.editableZips}
          error={state.artifactsError}
          trans={trans}
          onCopy={props.onCopy}
          now={props.now}
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
