import type { ISessionContext } from '@jupyterlab/apputils';
import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { Debouncer } from '@lumino/polling';

import type { SparkEnvironmentModel } from './model';
import type { IKernelRef } from './tokens';

/** The kernel of a notebook panel, as the model follows it. */
export function kernelOf(panel: NotebookPanel | null): IKernelRef | null {
  const kernel = panel?.sessionContext.session?.kernel;
  if (!panel || !kernel) {
    return null;
  }
  return {
    id: kernel.id,
    name: kernel.name,
    label: panel.sessionContext.kernelDisplayName,
    path: panel.context.path
  };
}

/**
 * Keep `model` on the active notebook's kernel: kernel changes, restarts (which may follow a
 * `pip install`), and executions (maybe `%pip install`) re-read the environment.
 * `isVisible` says whether anyone looks at the panel (hidden: no refresh after executions).
 */
export function followActiveKernel(
  tracker: INotebookTracker,
  model: SparkEnvironmentModel,
  isVisible: () => boolean
): void {
  let followed: ISessionContext | null = null;
  let followedPanel: NotebookPanel | null = null;
  let restarting = false;
  const refreshSoon = new Debouncer(() => {
    if (isVisible()) {
      return model.refresh();
    }
  }, 1500);

  const onKernelChanged = () => {
    void model.setKernel(kernelOf(tracker.currentWidget));
  };
  const onStatusChanged = (_: ISessionContext, status: string) => {
    if (status === 'restarting' || status === 'autorestarting') {
      restarting = true;
    } else if (status === 'idle') {
      if (restarting) {
        restarting = false;
        void model.refresh();
      } else {
        void refreshSoon.invoke();
      }
    }
  };
  const follow = (panel: NotebookPanel | null) => {
    if (followed) {
      followed.kernelChanged.disconnect(onKernelChanged);
      followed.statusChanged.disconnect(onStatusChanged);
    }
    // A rename changes the notebook path the panel shows.
    followedPanel?.context.pathChanged.disconnect(onKernelChanged);
    followedPanel = panel;
    panel?.context.pathChanged.connect(onKernelChanged);
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
}
