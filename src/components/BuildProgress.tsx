import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { isActive } from '../model';
import type { IBuild } from '../tokens';
import { formatDuration, toSeconds } from './format';

export interface IBuildControlsProps {
  build: IBuild | null;
  /** No kernel / environment not loaded: nothing to build. */
  canBuild: boolean;
  buildError: string | null;
  trans: TranslationBundle;
  onBuild: () => void;
  onCancel: () => void;
  onInsertCells: () => void;
  /** Is the log expanded? (State in the model: a toast's "Show log" opens it.) */
  logOpen: boolean;
  onToggleLog: (open: boolean) => void;
  /** Current time (s since the epoch), for the elapsed time. */
  now: number;
}

function phaseLabel(phase: string | null, trans: TranslationBundle): string {
  switch (phase) {
    case 'inspect':
      return trans.__('Inspecting the environment');
    case 'build':
      return trans.__('Building the PEX');
    case 'zip':
      return trans.__('Zipping editable projects');
    case 'upload':
      return trans.__('Uploading');
    case null:
    case undefined:
    case '':
      return trans.__('Waiting to start');
    default:
      return phase;
  }
}

function stateLabel(build: IBuild, trans: TranslationBundle): string {
  switch (build.state) {
    case 'queued':
      return trans.__('Queued');
    case 'running':
      return trans.__('Running');
    case 'succeeded':
      // A request answered with a job that had finished before it: nothing ran now.
      return build.created === false
        ? trans.__('Already built')
        : trans.__('Done');
    case 'failed':
      return trans.__('Failed');
    case 'cancelled':
      return trans.__('Cancelled');
    case 'interrupted':
      return trans.__('Interrupted');
    default:
      return build.state;
  }
}

/**
 * What went wrong with a finished build, in the server's words: its error, else the last
 * line of its log. Null when it did not fail.
 */
export function failureMessage(build: IBuild | null): string | null {
  if (!build || (build.state !== 'failed' && build.state !== 'interrupted')) {
    return build?.error || null;
  }
  const last = [...build.log].reverse().find(l => l.trim() !== '');
  return build.error || last || null;
}

/** "Build & upload", "Insert setup cells", and the progress of the current/last build. */
export function BuildControls(props: IBuildControlsProps): JSX.Element {
  const { build, trans } = props;
  const active = isActive(build);
  const { now, logOpen } = props;

  const started = toSeconds(build?.started_at ?? build?.created_at);
  const finished = toSeconds(build?.finished_at);
  const elapsed =
    started !== null ? (finished ?? (active ? now : started)) - started : null;
  const percent =
    build && typeof build.progress === 'number'
      ? Math.round(Math.min(1, Math.max(0, build.progress)) * 100)
      : 0;
  const log = build?.log ?? [];

  return (
    <section className="pexlab-Build" aria-label={trans.__('Build')}>
      <div className="pexlab-Build-actions">
        <button
          type="button"
          className="pexlab-Button pexlab-Button-primary pexlab-BuildButton"
          disabled={!props.canBuild || active}
          onClick={props.onBuild}
          title={
            active
              ? trans.__('A build of this environment is running')
              : trans.__('Build the PEX of this environment and upload it')
          }
        >
          {trans.__('Build & upload')}
        </button>
        {active && (
          <button
            type="button"
            className="pexlab-Button pexlab-Button-warn pexlab-CancelButton"
            onClick={props.onCancel}
          >
            {trans.__('Cancel')}
          </button>
        )}
        <button
          type="button"
          className="pexlab-Button pexlab-Button-secondary pexlab-InsertButton"
          onClick={props.onInsertCells}
          title={trans.__('Insert the Spark setup cells into the notebook')}
        >
          {trans.__('Insert setup cells')}
        </button>
      </div>
      {props.buildError && (
        <p className="pexlab-Error pexlab-Build-error" role="alert">
          {props.buildError}
        </p>
      )}
      {build && (
        <div
          className={`pexlab-Build-status pexlab-Build-${build.state}`}
          data-build-state={build.state}
          data-build-id={build.id}
        >
          <div className="pexlab-Build-line">
            <span className="pexlab-Build-state">
              {stateLabel(build, trans)}
            </span>
            {active && (
              <span className="pexlab-Build-phase">
                {phaseLabel(build.phase, trans)}
              </span>
            )}
            {/* An earlier job's duration is not this request's: no time then. */}
            {elapsed !== null && build.created !== false && (
              <span
                className="pexlab-Build-elapsed"
                aria-label={trans.__('Elapsed time')}
              >
                {formatDuration(elapsed, trans)}
              </span>
            )}
          </div>
          {(active || build.state === 'succeeded') && (
            <div
              className="pexlab-ProgressBar"
              role="progressbar"
              aria-label={trans.__('Build progress')}
              aria-valuemin={0}
              aria-valuemax={100}
              aria-valuenow={percent}
            >
              <div
                className="pexlab-ProgressBar-fill"
                style={{ width: `${percent}%` }}
              />
            </div>
          )}
          {active && build.message && (
            <div className="pexlab-Build-message">{build.message}</div>
          )}
          {failureMessage(build) && (
            <p className="pexlab-Error pexlab-Build-failure" role="alert">
              {failureMessage(build)}
            </p>
          )}
          {log.length > 0 && (
            <div className="pexlab-Log">
              <button
                type="button"
                className="pexlab-LinkButton pexlab-Log-toggle"
                aria-expanded={logOpen}
                onClick={() => props.onToggleLog(!logOpen)}
              >
                {logOpen ? trans.__('Hide log') : trans.__('Show log')}
              </button>
              {logOpen && (
                <pre className="pexlab-Log-tail" tabIndex={0}>
                  {log.join('\n')}
                </pre>
              )}
            </div>
          )}
        </div>
      )}
    </section>
  );
}
