import { Poll } from '@lumino/polling';

/**
 * Longest wait between two requests while the server keeps failing: a restarted server is
 * noticed within a minute, a dead one costs one request a minute per poll.
 */
export const MAX_POLL_INTERVAL = 60 * 1000;

export interface IBackoffPollOptions {
  /** Must reject when the server fails: only a rejection makes the poll wait longer. */
  factory: () => Promise<unknown>;
  /** Milliseconds between requests while the server answers. */
  interval: number;
  standby: Poll.Standby | (() => boolean | Poll.Standby);
  name: string;
}

/**
 * A poll that waits up to three times longer after each failure (Lumino's backoff, capped at
 * MAX_POLL_INTERVAL) and returns to `interval` after the first success, like jupyterlab-git's status poll:
 * a server that is down is not asked every few seconds.
 */
export function backoffPoll(options: IBackoffPollOptions): Poll {
  return new Poll({
    factory: () => options.factory(),
    frequency: {
      interval: options.interval,
      backoff: true,
      max: MAX_POLL_INTERVAL
    },
    standby: options.standby,
    name: options.name
  });
}
