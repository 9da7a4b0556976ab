// Up/down tracking shared by the backends: the server learns of an outage once, and of the recovery once.

export type StateChangeListener = (up: boolean, err?: unknown) => void;

export class StoreHealth {
  #up = true;
  readonly #listener: StateChangeListener | undefined;

  constructor(listener?: StateChangeListener) {
    this.#listener = listener;
  }

  get up(): boolean {
    return this.#up;
  }

  down(err: unknown): void {
    if (!this.#up) return;
    this.#up = false;
    this.#notify(false, err);
  }

  ok(): void {
    if (this.#up) return;
    this.#up = true;
    this.#notify(true);
  }

  #notify(up: boolean, err?: unknown): void {
    try {
      this.#listener?.(up, err);
    } catch {
      // a throwing listener must not break the store
    }
  }
}
