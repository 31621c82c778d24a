import { Notification } from '@jupyterlab/apputils';
import type { JupyterFrontEnd } from '@jupyterlab/application';
import type { TranslationBundle } from '@jupyterlab/translation';

import { failureMessage } from './components/BuildProgress';
import { CommandIDs, IBuild, ISparkEnvironmentModel } from './tokens';

/** Toasts carry at most this many characters of the server's message; the log has it all. */
const MAX_MESSAGE = 240;

function clip(text: string): string {
  return text.length > MAX_MESSAGE
    ? text.slice(0, MAX_MESSAGE - 1) + '…'
    : text;
}

/** The toast text for a failed build: the server's own words. */
export function failureToastText(
  build: IBuild,
  trans: TranslationBundle
): string {
  const message = failureMessage(build);
  return message
    ? trans.__('Spark environment build failed: %1', clip(message))
    : trans.__('Spark environment build failed (no message: see the log).');
}

/**
 * Build toasts. A failure stays until it is dealt with and offers the log; it is replaced by
 * the outcome of the next build, and dismissed when the failure stops being the panel's
 * state (a newer PEX made it history, another kernel is followed).
 */
export function connectNotifications(
  model: ISparkEnvironmentModel,
  commands: JupyterFrontEnd['commands'],
  trans: TranslationBundle
): void {
  let failure: { toast: string; build: string; text: string } | null = null;
  const dismissFailure = () => {
    if (failure) {
      Notification.dismiss(failure.toast);
      failure = null;
    }
  };

  model.buildStarted.connect(() => dismissFailure());
  model.stateChanged.connect(() => {
    const build = model.state.build;
    if (failure && build?.id !== failure.build) {
      dismissFailure();
    } else if (failure && build) {
      // More of the server's words arrived (e.g. the job's error after its event).
      const text = failureToastText(build, trans);
      if (text !== failure.text) {
        Notification.update({ id: failure.toast, message: text });
        failure.text = text;
      }
    }
  });
  model.alreadyBuilt.connect(() => {
    dismissFailure();
    Notification.info(
      trans.__(
        'Nothing to build: the PEX and zips for these settings are already built and uploaded.'
      ),
      { autoClose: 5000 }
    );
  });
  model.buildFinished.connect((_, build) => {
    if (build.state === 'succeeded') {
      const message = trans.__(
        'Spark environment built: the PEX is up to date.'
      );
      if (failure) {
        Notification.update({
          id: failure.toast,
          message,
          type: 'success',
          autoClose: 5000,
          actions: []
        });
        failure = null;
      } else {
        Notification.success(message, { autoClose: 5000 });
      }
    } else if (build.state === 'failed' || build.state === 'interrupted') {
      dismissFailure();
      const text = failureToastText(build, trans);
      const toast = Notification.error(text, {
        autoClose: false,
        actions: [
          {
            label: trans.__('Show log'),
            caption: trans.__(
              'Show the build log in the Spark environment panel'
            ),
            callback: () => void commands.execute(CommandIDs.showLog)
          }
        ]
      });
      failure = { toast, build: build.id, text };
    } else if (build.state === 'cancelled') {
      dismissFailure();
      Notification.info(trans.__('Spark environment build cancelled.'), {
        autoClose: 3000
      });
    }
  });
}
