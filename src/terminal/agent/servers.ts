// The servers a TV agent may register with (issue 18): the first, then the others in order when it cannot be reached
// (RFC 3263 §4.3: on a transport failure or a 503 the client tries the next server of the list). Every part sends to
// the one `target` object, which a failover changes in place.
import type { Target } from '../../transport/transport.ts';

export class Servers {
  /** where requests go now */
  readonly target: Target;
  readonly #list: readonly Target[];
  #index = 0;

  constructor(list: readonly Target[]) {
    if (list.length === 0) throw new RangeError('a TV agent needs a server');
    this.#list = list.map((t) => ({ ...t }));
    this.target = { ...this.#list[0] };
  }

  get count(): number {
    return this.#list.length;
  }

  /** Moves to the next server of the list (after the last, the first again); returns it. */
  next(): Target {
    this.#index = (this.#index + 1) % this.#list.length;
    Object.assign(this.target, this.#list[this.#index]);
    return this.target;
  }
}
