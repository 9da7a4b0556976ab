// Waiting for a TV agent's typed events in tests.
import type { TvAgentEvents } from '../../src/terminal/events.ts';
import type { TvAgent } from '../../src/terminal/tv-agent.ts';

/** The next `event` of `agent` that passes `pred`; rejects after `ms`. */
export function waitFor<K extends keyof TvAgentEvents>(agent: TvAgent, event: K, pred: (e: TvAgentEvents[K][0]) => boolean = () => true, ms = 8000): Promise<TvAgentEvents[K][0]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      agent.off(event, on as never);
      reject(new Error(`timed out waiting for ${event}`));
    }, ms);
    const on = (e: TvAgentEvents[K][0]): void => {
      if (!pred(e)) return;
      clearTimeout(timer);
      agent.off(event, on as never);
      resolve(e);
    };
    agent.on(event, on as never);
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
