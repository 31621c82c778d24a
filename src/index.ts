import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  Clipboard,
  ICommandPalette,
  ISessionContext,
  Notification
} from '@jupyterlab/apputils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { Debouncer } from '@lumino/polling';

import {
  buildRequest,
  DEFAULT_SETTINGS,
  ISparkSettings,
  normalizeSettings,
  upsertSetupCells
} from './cells';
import { sparkIcon } from './icon';
import { IKernelRef, SparkEnvironmentModel } from './model';
import { BUILD_EVENT_SCHEMA, CommandIDs, IBuild, PLUGIN_ID } from './tokens';
import { SparkEnvironmentWidget } from './widget';

function kernelOf(panel: NotebookPanel | null): IKernelRef | null {
  const kernel = panel?.sessionContext.session?.kernel;
  if (!panel || !kernel) {
    return null;
  }
  return {
    id: kernel.id,
    name: kernel.name,
    label: `${panel.sessionContext.kernelDisplayName} · ${panel.context.path}`
  };
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    "Spark environment panel: the active kernel's packages, its PEX state and builds, and setup cells.",
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ILayoutRestorer, ICommandPalette, ISettingRegistry, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    settingRegistry: ISettingRegistry | null,
    translator: ITranslator | null
  ) => {
    const trans = (translator ?? nullTranslator).load('pexlab');
    let settings: ISparkSettings = { ...DEFAULT_SETTINGS };

    const model = new SparkEnvironmentModel();
    const widget = new SparkEnvironmentWidget(model, trans, {
      onBuild: () => void app.commands.execute(CommandIDs.build),
      onInsertCells: () =>
        void app.commands.execute(CommandIDs.insertSetupCells),
      onCopy: (text: string) => {
        Clipboard.copyToSystem(text);
        Notification.info(trans.__('Copied %1', text), { autoClose: 2000 });
      }
    });
    widget.id = 'pexlab-spark-environment';
    widget.title.icon = sparkIcon;
    widget.title.caption = trans.__('Spark environment');
    app.shell.add(widget, 'right', { rank: 900 });
    if (restorer) {
      restorer.add(widget, 'pexlab-spark-environment');
    }
    model.startPolling();

    // ---- follow the active notebook's kernel (changes, restarts, executions) ----
    let followed: ISessionContext | null = null;
    let restarting = false;
    const refreshSoon = new Debouncer(() => {
      if (widget.isVisible) {
        return model.refresh();
      }
    }, 1500);

    const onKernelChanged = () => {
      void model.setKernel(kernelOf(tracker.currentWidget));
    };
    const onStatusChanged = (ctx: ISessionContext, status: string) => {
      if (status === 'restarting' || status === 'autorestarting') {
        restarting = true;
      } else if (status === 'idle') {
        if (restarting) {
          restarting = false;
          void model.refresh(); // a restart may come after `pip install`
        } else {
          // After an execution (maybe `%pip install`), re-check the PEX state.
          void refreshSoon.invoke();
        }
      }
    };
    const follow = (panel: NotebookPanel | null) => {
      if (followed) {
        followed.kernelChanged.disconnect(onKernelChanged);
        followed.statusChanged.disconnect(onStatusChanged);
      }
      followed = panel?.sessionContext ?? null;
      if (followed) {
        followed.kernelChanged.connect(onKernelChanged);
        followed.statusChanged.connect(onStatusChanged);
        void followed.ready.then(() => {
          if (tracker.currentWidget === panel) {
            onKernelChanged();
          }
        });
      }
      onKernelChanged();
    };
    tracker.currentChanged.connect((_, panel) => follow(panel));
    follow(tracker.currentWidget);
    // ---- server events: build state changes without waiting for the next poll ----
    app.serviceManager.events.stream.connect((_, event) => {
      if (event.schema_id === BUILD_EVENT_SCHEMA) {
        model.handleBuildEvent(event as unknown as IBuild);
      }
    });

    model.buildFinished.connect((_, build) => {
      if (build.state === 'succeeded') {
        Notification.success(
          trans.__('Spark environment built: the PEX is up to date.'),
          { autoClose: 5000 }
        );
      } else if (build.state === 'failed' || build.state === 'interrupted') {
        Notification.error(
          trans.__('Spark environment build failed: %1', build.error ?? ''),
          { autoClose: false }
        );
      } else if (build.state === 'cancelled') {
        Notification.info(trans.__('Spark environment build cancelled.'), {
          autoClose: 3000
        });
      }
    });

    // ---- commands ----
    const ensureKernel = (): boolean => {
      const ref = kernelOf(tracker.currentWidget);
      if (ref && ref.id !== model.state.kernel?.id) {
        void model.setKernel(ref);
      }
      return !!(ref ?? model.state.kernel);
    };

    app.commands.addCommand(CommandIDs.show, {
      describedBy: { args: { type: 'object', properties: {} } },
      label: trans.__('Show Spark environment'),
      caption: trans.__("Show the active kernel's Spark environment"),
      icon: sparkIcon,
      execute: () => {
        app.shell.activateById(widget.id);
      }
    });

    app.commands.addCommand(CommandIDs.build, {
      describedBy: { args: { type: 'object', properties: {} } },
      label: trans.__('Build Spark environment'),
      caption: trans.__(
        "Build and upload the PEX of the active kernel's environment"
      ),
      icon: sparkIcon,
      isEnabled: () => !model.isBuilding,
      execute: async () => {
        if (!ensureKernel()) {
          Notification.warning(
            trans.__('Open a notebook with a running kernel first.')
          );
          return;
        }
        const build = await model.startBuild(buildRequest(settings));
        if (!build && model.state.buildError) {
          Notification.error(
            trans.__('Could not start the build: %1', model.state.buildError)
          );
        }
        app.commands.notifyCommandChanged(CommandIDs.build);
      }
    });

    app.commands.addCommand(CommandIDs.insertSetupCells, {
      describedBy: { args: { type: 'object', properties: {} } },
      label: trans.__('Insert Spark setup cells'),
      caption: trans.__(
        'Insert (or update) the cells that create a Spark session with this environment'
      ),
      icon: sparkIcon,
      isEnabled: () => tracker.currentWidget !== null,
      execute: async () => {
        const panel = tracker.currentWidget;
        const nbModel = panel?.content.model;
        if (!panel || !nbModel) {
          Notification.warning(trans.__('Open a notebook first.'));
          return;
        }
        if (settings.buildBeforeInsert && !model.isBuilding) {
          await app.commands.execute(CommandIDs.build);
        }
        const result = upsertSetupCells(
          nbModel.sharedModel,
          settings,
          panel.content.activeCellIndex
        );
        panel.content.activeCellIndex = result.index + 1;
        Notification.info(
          result.action === 'inserted'
            ? trans.__('Spark setup cells inserted.')
            : trans.__('Spark setup cells updated from the settings.'),
          { autoClose: 3000 }
        );
      }
    });

    if (palette) {
      const category = trans.__('Spark');
      for (const command of [
        CommandIDs.insertSetupCells,
        CommandIDs.build,
        CommandIDs.show
      ]) {
        palette.addItem({ command, category });
      }
    }
    model.stateChanged.connect(() =>
      app.commands.notifyCommandChanged(CommandIDs.build)
    );

    if (settingRegistry) {
      settingRegistry
        .load(PLUGIN_ID)
        .then(loaded => {
          const apply = () => {
            settings = normalizeSettings(
              loaded.composite as unknown as Partial<ISparkSettings>
            );
          };
          apply();
          loaded.changed.connect(apply);
        })
        .catch(reason => {
          console.error('pexlab: failed to load settings.', reason);
        });
    }
  }
};

export default plugin;
