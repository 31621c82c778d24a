import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { Clipboard, ICommandPalette, Notification } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { normalizeSettings } from './cells';
import {
  addBuildCommand,
  addInsertCommand,
  addInstallCommand,
  addShowCommand,
  addShowLogCommand,
  ICommandContext,
  paletteCommands,
  shellListsSidePanels
} from './commands';
import { followActiveKernel } from './follow';
import { SparkEnvironmentModel } from './model';
import { addPanelButton } from './panelButton';
import { connectNotifications } from './notify';
import {
  BUILD_EVENT_SCHEMA,
  CommandIDs,
  IBuild,
  ISparkEnvironment,
  ISparkEnvironmentModel,
  ISparkSettings,
  PLUGIN_ID
} from './tokens';
import { SparkEnvironmentWidget } from './widget';

export * from './tokens';

const PANEL_ID = 'pexlab-spark-environment';

/** Server events: build state changes without waiting for the next poll. */
function connectBuildEvents(
  app: JupyterFrontEnd,
  model: SparkEnvironmentModel
): void {
  app.serviceManager.events.stream.connect((_, event) => {
    if (event.schema_id === BUILD_EVENT_SCHEMA) {
      model.handleBuildEvent(event as unknown as IBuild);
    }
  });
}

function loadSettings(
  registry: ISettingRegistry,
  model: SparkEnvironmentModel
): void {
  registry
    .load(PLUGIN_ID)
    .then(loaded => {
      const apply = () =>
        model.setSettings(
          normalizeSettings(
            loaded.composite as unknown as Partial<ISparkSettings>
          )
        );
      apply();
      loaded.changed.connect(apply);
    })
    .catch(reason => {
      console.error('pexlab: failed to load settings.', reason);
    });
}

const plugin: JupyterFrontEndPlugin<ISparkEnvironmentModel> = {
  id: PLUGIN_ID,
  description:
    "Spark environment panel: the active kernel's packages, its PEX state and builds, and setup cells.",
  autoStart: true,
  provides: ISparkEnvironment,
  requires: [INotebookTracker],
  optional: [ILayoutRestorer, ICommandPalette, ISettingRegistry, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    settingRegistry: ISettingRegistry | null,
    translator: ITranslator | null
  ): ISparkEnvironmentModel => {
    const trans = (translator ?? nullTranslator).load('pexlab');
    const model = new SparkEnvironmentModel({ trans });
    const run = (id: string) => () => void app.commands.execute(id);
    const widget = new SparkEnvironmentWidget(model, trans, {
      onBuild: run(CommandIDs.build),
      onInsertCells: run(CommandIDs.insertSetupCells),
      onInstallPexlab: run(CommandIDs.installPexlab),
      onCopy: (text: string) => {
        Clipboard.copyToSystem(text);
        Notification.info(trans.__('Copied %1', text), { autoClose: 2000 });
      }
    });
    widget.id = PANEL_ID;
    app.shell.add(widget, 'right', { rank: 900 });
    restorer?.add(widget, PANEL_ID);

    model.startPolling();
    followActiveKernel(tracker, model, () => widget.isVisible);
    connectBuildEvents(app, model);
    connectNotifications(model, app.commands, trans);
    addPanelButton(app, model, PANEL_ID, trans);

    const ctx: ICommandContext = { app, tracker, model, panel: widget, trans };
    addShowCommand(ctx);
    addShowLogCommand(ctx);
    addBuildCommand(ctx);
    addInsertCommand(ctx);
    addInstallCommand(ctx);

    if (palette) {
      const category = trans.__('Spark');
      for (const command of paletteCommands(shellListsSidePanels())) {
        palette.addItem({ command, category });
      }
    }
    if (settingRegistry) {
      loadSettings(settingRegistry, model);
    }
    return model;
  }
};

export default plugin;
