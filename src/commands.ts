/**
 * The plugin's commands, one small function each. They act on the model (the state) and the
 * notebook tracker; the panel's buttons run them too.
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import { Notification } from '@jupyterlab/apputils';
import { PageConfig } from '@jupyterlab/coreutils';
import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import type { TranslationBundle } from '@jupyterlab/translation';
import type { Widget } from '@lumino/widgets';

import { INSTALL_PEXLAB, setupPlan, upsertSetupCells } from './cells';
import { kernelOf } from './follow';
import { sparkIcon } from './icon';
import type { SparkEnvironmentModel } from './model';
import { CommandIDs } from './tokens';
import type { ISetupPlan } from './tokens';

export interface ICommandContext {
  app: JupyterFrontEnd;
  tracker: INotebookTracker;
  /** The concrete model: the panel's own state (log open, installing) is not public. */
  model: SparkEnvironmentModel;
  panel: Widget;
  trans: TranslationBundle;
}

const NO_ARGS = { args: { type: 'object', properties: {} } };

/**
 * Does the shell put a "Show <caption>" palette entry of its own for each side panel?
 * Jupyter Notebook 7 does on its notebook pages (its sidebar plugin tests this same page
 * option), which with our Show command made "Show Spark environment" appear twice.
 */
export function shellListsSidePanels(): boolean {
  return PageConfig.getOption('notebookPage') === 'notebooks';
}

/** The commands pexlab puts in the palette. */
export function paletteCommands(shellListsPanels: boolean): string[] {
  return [
    CommandIDs.insertSetupCells,
    CommandIDs.build,
    ...(shellListsPanels ? [] : [CommandIDs.show]),
    CommandIDs.installPexlab
  ];
}

/** Make the model follow the active notebook's kernel; false when there is none. */
async function followActive(ctx: ICommandContext): Promise<boolean> {
  const ref = kernelOf(ctx.tracker.currentWidget);
  if (ref && ref.id !== ctx.model.state.kernel?.id) {
    await ctx.model.setKernel(ref);
  }
  return !!(ref ?? ctx.model.state.kernel);
}

export function addShowCommand(ctx: ICommandContext): void {
  const { app, trans } = ctx;
  app.commands.addCommand(CommandIDs.show, {
    describedBy: NO_ARGS,
    label: trans.__('Show Spark environment'),
    caption: trans.__("Show the active kernel's Spark environment"),
    icon: sparkIcon,
    execute: () => {
      app.shell.activateById(ctx.panel.id);
    }
  });
}

export function addShowLogCommand(ctx: ICommandContext): void {
  const { app, trans, model } = ctx;
  app.commands.addCommand(CommandIDs.showLog, {
    describedBy: NO_ARGS,
    label: trans.__('Show Spark environment build log'),
    caption: trans.__('Show the log of the last build in the panel'),
    icon: sparkIcon,
    isEnabled: () => (model.state.build?.log ?? []).length > 0,
    execute: () => {
      app.shell.activateById(ctx.panel.id);
      model.setLogOpen(true);
      requestAnimationFrame(() =>
        ctx.panel.node
          .querySelector('.pexlab-Log')
          ?.scrollIntoView({ block: 'nearest' })
      );
    }
  });
}

export function addBuildCommand(ctx: ICommandContext): void {
  const { app, trans, model } = ctx;
  app.commands.addCommand(CommandIDs.build, {
    describedBy: NO_ARGS,
    label: trans.__('Build Spark environment'),
    caption: trans.__(
      "Build and upload the PEX of the active kernel's environment"
    ),
    icon: sparkIcon,
    isEnabled: () => !model.isBuilding,
    execute: async () => {
      if (!(await followActive(ctx))) {
        Notification.warning(
          trans.__('Open a notebook with a running kernel first.')
        );
        return;
      }
      const build = await model.startBuild();
      if (!build && model.state.buildError) {
        Notification.error(
          trans.__('Could not start the build: %1', model.state.buildError),
          { autoClose: 8000 }
        );
      }
      app.commands.notifyCommandChanged(CommandIDs.build);
    }
  });
  model.stateChanged.connect(() =>
    app.commands.notifyCommandChanged(CommandIDs.build)
  );
}

export function addInsertCommand(ctx: ICommandContext): void {
  const { app, trans, model, tracker } = ctx;
  app.commands.addCommand(CommandIDs.insertSetupCells, {
    describedBy: NO_ARGS,
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
      const settings = model.state.settings;
      // The cells pass what the server resolved for THIS kernel (options, storage, master).
      const ref = kernelOf(panel);
      if (ref) {
        await followActive(ctx);
        if (!model.state.environment) {
          await model.refresh();
        }
      }
      if (settings.buildBeforeInsert && ref && !model.isBuilding) {
        await app.commands.execute(CommandIDs.build);
      }
      const env =
        ref && model.state.kernel?.id === ref.id
          ? model.state.environment
          : null;
      const plan = setupPlan(settings, env);
      const refusal = settingsRefusal(plan, trans);
      if (refusal) {
        // Never insert cells that silently drop (or would fail on) a setting the server
        // refused: say which and why.
        Notification.error(refusal, { autoClose: false });
        return;
      }
      const result = upsertSetupCells(
        nbModel.sharedModel,
        plan,
        trans,
        settings.insertPosition,
        panel.content.activeCellIndex
      );
      panel.content.activeCellIndex = result.index + 1;
      if (env && !env.pexlab.installed) {
        Notification.warning(
          trans.__(
            'Spark setup cells inserted, but this kernel lacks pexlab: run %1 in it first.',
            INSTALL_PEXLAB
          ),
          {
            autoClose: false,
            actions: [
              {
                label: trans.__('Install pexlab'),
                callback: () =>
                  void app.commands.execute(CommandIDs.installPexlab)
              }
            ]
          }
        );
        return;
      }
      Notification.info(
        result.action === 'inserted'
          ? trans.__('Spark setup cells inserted.')
          : trans.__('Spark setup cells updated from the settings.'),
        { autoClose: 3000 }
      );
    }
  });
}

/**
 * Why the setup cells cannot be inserted with this plan (a master or storage the server's
 * engine refused), or null.
 */
export function settingsRefusal(
  plan: ISetupPlan,
  trans: TranslationBundle
): string | null {
  const reasons: string[] = [];
  if (plan.errors.storage) {
    reasons.push(
      trans.__('storage %1: %2', plan.storage ?? '', plan.errors.storage)
    );
  }
  if (plan.errors.master) {
    reasons.push(
      trans.__('master %1: %2', plan.master ?? '', plan.errors.master)
    );
  }
  return reasons.length
    ? trans.__(
        'Spark setup cells not inserted. Fix the setting (Settings › Spark environment): %1',
        reasons.join('; ')
      )
    : null;
}

/** The notebook panel whose kernel the model follows. */
function followedPanel(ctx: ICommandContext): NotebookPanel | null {
  const id = ctx.model.state.kernel?.id;
  if (!id) {
    return null;
  }
  return (
    ctx.tracker.find(p => p.sessionContext.session?.kernel?.id === id) ?? null
  );
}

export function addInstallCommand(ctx: ICommandContext): void {
  const { app, trans, model } = ctx;
  app.commands.addCommand(CommandIDs.installPexlab, {
    describedBy: NO_ARGS,
    label: trans.__('Install pexlab in the kernel'),
    caption: trans.__('Run %1 in the active kernel', INSTALL_PEXLAB),
    icon: sparkIcon,
    isEnabled: () => !model.state.installing,
    execute: async () => {
      const kernel = followedPanel(ctx)?.sessionContext.session?.kernel;
      if (!kernel) {
        Notification.warning(
          trans.__('Open a notebook with a running kernel first.')
        );
        return;
      }
      model.setInstalling(true);
      const output: string[] = [];
      try {
        const future = kernel.requestExecute({
          code: INSTALL_PEXLAB,
          silent: false,
          store_history: false
        });
        future.onIOPub = msg => {
          const content = msg.content as { text?: string };
          if (msg.header.msg_type === 'stream' && content.text) {
            output.push(content.text);
          }
        };
        const reply = await future.done;
        const failed =
          reply.content.status !== 'ok' ||
          /ERROR:|No matching distribution/.test(output.join(''));
        if (failed) {
          const tail = output.join('').trim().split('\n').slice(-3).join('\n');
          Notification.error(
            trans.__('Could not install pexlab in the kernel: %1', tail),
            { autoClose: false }
          );
        } else {
          Notification.success(trans.__('pexlab installed in the kernel.'), {
            autoClose: 5000
          });
        }
      } catch (error) {
        Notification.error(
          trans.__(
            'Could not install pexlab in the kernel: %1',
            (error as Error).message ?? String(error)
          ),
          { autoClose: false }
        );
      } finally {
        model.setInstalling(false);
        await model.refresh();
      }
    }
  });
}
