import { ReactWidget } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import type { Message } from '@lumino/messaging';
import * as React from 'react';

import { EnvironmentPanel } from './components/EnvironmentPanel';
import { sparkIcon } from './icon';
import { SparkEnvironmentModel } from './model';

/** What the panel's buttons do beyond the model (commands of the plugin). */
export interface IPanelActions {
  onBuild: () => void;
  onInsertCells: () => void;
  onCopy: (text: string) => void;
  onInstallPexlab: () => void;
}

/** Seconds since the epoch, re-read every second: "built N ago" ticks. */
function useNow(): number {
  const [now, setNow] = React.useState(() => Date.now() / 1000);
  React.useEffect(() => {
    const timer = setInterval(() => setNow(Date.now() / 1000), 1000);
    return () => clearInterval(timer);
  }, []);
  return now;
}

function Connected(props: {
  model: SparkEnvironmentModel;
  trans: TranslationBundle;
  actions: IPanelActions;
}): JSX.Element {
  const { model, actions } = props;
  const [, setVersion] = React.useState(0);
  React.useEffect(() => {
    const onChange = () => setVersion(v => v + 1);
    model.stateChanged.connect(onChange);
    return () => {
      model.stateChanged.disconnect(onChange);
    };
  }, [model]);
  const now = useNow();
  return (
    <EnvironmentPanel
      state={model.state}
      pexView={model.pexView}
      plan={model.plan}
      now={now}
      installing={model.state.installing}
      logOpen={model.state.logOpen}
      trans={props.trans}
      onRefresh={() => void model.refresh()}
      onBuild={actions.onBuild}
      onCancel={() => void model.cancelBuild()}
      onInsertCells={actions.onInsertCells}
      onCopy={actions.onCopy}
      onToggleLog={open => model.setLogOpen(open)}
      onInstallPexlab={actions.onInstallPexlab}
    />
  );
}

/** Thin Lumino wrapper around the React panel; the state lives in the model. */
export class SparkEnvironmentWidget extends ReactWidget {
  constructor(
    readonly model: SparkEnvironmentModel,
    private _trans: TranslationBundle,
    private _actions: IPanelActions
  ) {
    super();
    this.addClass('pexlab-Widget');
    // Side bars show the icon (JupyterLab's tab, Notebook 7's sidebar); the caption is the
    // tooltip and, in Notebook 7, the "Show <caption>" entry of the View menu and palette.
    this.title.icon = sparkIcon;
    this.title.caption = _trans.__('Spark environment');
  }

  /** Opening the panel re-reads the environment (it may have changed while hidden). */
  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.model.setVisible(true);
    void this.model.refresh();
    void this.model.refreshArtifacts();
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this.model.setVisible(false);
  }

  protected render(): JSX.Element {
    return (
      <Connected
        model={this.model}
        trans={this._trans}
        actions={this._actions}
      />
    );
  }
}
