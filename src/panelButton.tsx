/**
 * Notebook 7's way to the panel. Its shell has the right side area but no tab bar for it, so
 * the panel's title icon is never drawn; this button in the top area (beside the kernel logo)
 * is the visible door that JupyterLab's sidebar tab is.
 */
import { LabShell } from '@jupyterlab/application';
import type { JupyterFrontEnd } from '@jupyterlab/application';
import { ReactWidget } from '@jupyterlab/apputils';
import { PageConfig } from '@jupyterlab/coreutils';
import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { PanelButton } from './components/PanelButton';
import { sparkIcon } from './icon';
import type { SparkEnvironmentModel } from './model';
import { CommandIDs } from './tokens';

/**
 * Notebook 7's command behind View › Right Sidebar › Show <caption>: it shows the panel, or
 * hides the side area when the panel is what it shows. Ours only shows.
 */
export const TOGGLE_PANEL = 'application:toggle-panel';

/** The few shell traits the decision reads (a JupyterFrontEnd has them). */
export interface IShellTraits {
  shell: unknown;
}

/**
 * Is this a Notebook 7 notebook page, whose shell draws no side tab bars? Not JupyterLab's
 * LabShell (which draws them), a shell with a collapsible right area (Notebook 7's
 * `expandRight`), and a notebook page (Notebook 7 sets `notebookPage`; its tree and console
 * pages have no kernel to show the environment of).
 */
export function needsPanelButton(app: IShellTraits): boolean {
  const shell = app.shell as { expandRight?: unknown } | null;
  return (
    !!shell &&
    !(shell instanceof LabShell) &&
    typeof shell.expandRight === 'function' &&
    PageConfig.getOption('notebookPage') === 'notebooks'
  );
}

/** Thin Lumino wrapper: the pressed state is the model's `visible`. */
export class SparkPanelButtonWidget extends ReactWidget {
  constructor(
    private _model: SparkEnvironmentModel,
    private _label: string,
    private _onClick: () => void
  ) {
    super();
    this.addClass('pexlab-PanelButtonWidget');
    _model.stateChanged.connect(this._onState, this);
  }

  dispose(): void {
    this._model.stateChanged.disconnect(this._onState, this);
    super.dispose();
  }

  protected render(): JSX.Element {
    return (
      <PanelButton
        icon={sparkIcon}
        label={this._label}
        pressed={this._model.state.visible}
        onClick={this._onClick}
      />
    );
  }

  private _onState(): void {
    // Re-render only on what the button shows (the model changes often during a build).
    if (this._pressed !== this._model.state.visible) {
      this._pressed = this._model.state.visible;
      this.update();
    }
  }

  private _pressed = false;
}

/** Add the button to Notebook 7's top area; nothing in JupyterLab. */
export function addPanelButton(
  app: JupyterFrontEnd,
  model: SparkEnvironmentModel,
  panelId: string,
  trans: TranslationBundle
): SparkPanelButtonWidget | null {
  if (!needsPanelButton(app)) {
    return null;
  }
  const label = trans.__('Show Spark environment');
  const button = new SparkPanelButtonWidget(model, label, () => {
    // Notebook 7's own toggle, as its View menu runs it; our Show command if it is gone.
    if (app.commands.hasCommand(TOGGLE_PANEL)) {
      void app.commands.execute(TOGGLE_PANEL, {
        side: 'right',
        id: panelId,
        title: label
      });
    } else {
      void app.commands.execute(CommandIDs.show);
    }
  });
  button.id = 'pexlab-panel-button';
  // After the top bar (rank 900: title, kernel logo), at the right end.
  app.shell.add(button, 'top', { rank: 1000 });
  return button;
}
