import { ReactWidget } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import type { Message } from '@lumino/messaging';
import * as React from 'react';

import { EnvironmentPanel } from './components/EnvironmentPanel';
import { SparkEnvironmentModel } from './model';

export interface IPanelActions {
  onBuild: () => void;
  onInsertCells: () => void;
  onCopy: (text: string) => void;
}

function Connected(props: {
  model: SparkEnvironmentModel;
  trans: TranslationBundle;
  actions: IPanelActions;
}): JSX.Element {
  const { model } = props;
  const [, setVersion] = React.useState(0);
  React.useEffect(() => {
    const onChange = () => setVersion(v => v + 1);
    model.stateChanged.connect(onChange);
    return () => {
      model.stateChanged.disconnect(onChange);
    };
  }, [model]);
  return (
    <EnvironmentPanel
      state={model.state}
      pexView={model.pexView}
      trans={props.trans}
      onRefresh={() => void model.refresh()}
      onBuild={props.actions.onBuild}
      onCancel={() => void model.cancelBuild()}
      onInsertCells={props.actions.onInsertCells}
      onCopy={props.actions.onCopy}
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
  }

  /** Opening the panel re-reads the environment (it may have changed while hidden). */
  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    void this.model.refresh();
    void this.model.refreshArtifacts();
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
