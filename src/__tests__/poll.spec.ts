import type { IPoll } from '@lumino/polling';

import { backoffPoll, MAX_POLL_INTERVAL } from '../poll';

describe('backoffPoll', () => {
  afterEach(() => jest.restoreAllMocks());

  it('waits longer after each failure and returns to its interval after a success', async () => {
    // Lumino picks the next wait at random between `interval` and 3x the last one: take the top.
    jest.spyOn(Math, 'random').mockReturnValue(0.9999);
    const answers = [false, false, false, false, false, false, true, false];
    const ticks: IPoll.State<unknown, unknown, 'standby'>[] = [];
    let calls = 0;
    const done = new Promise<void>(resolve => {
      const poll = backoffPoll({
        factory: async () => {
          const ok = answers[calls++];
          if (!ok) {
            throw new Error('server down');
          }
        },
        interval: 5,
        standby: 'never',
        name: 'test'
      });
      expect(poll.frequency).toEqual({
        interval: 5,
        backoff: true,
        max: MAX_POLL_INTERVAL
      });
      poll.ticked.connect((_, state) => {
        if (state.phase === 'rejected' || state.phase === 'reconnected') {
          ticks.push(state);
        }
        if (calls === answers.length && ticks.length === answers.length) {
          poll.dispose();
          resolve();
        }
      });
    });
    await done;
    expect(ticks.map(t => t.phase)).toEqual([
      ...Array(6).fill('rejected'),
      'reconnected',
      'rejected'
    ]);
    const waits = ticks.map(t => t.interval);
    // Consecutive failures: each wait longer than the last (about three times).
    for (let i = 1; i < 6; i++) {
      expect(waits[i]).toBeGreaterThan(2 * waits[i - 1]);
    }
    // A success: back to the interval; the next failure starts growing from there.
    expect(waits[6]).toBe(5);
    expect(waits[7]).toBeGreaterThan(5);
  });
});
