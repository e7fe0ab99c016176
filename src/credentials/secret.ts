/**
 * The Secret type (invariant I10): a credential value that refuses to be printed.
 *
 * Its string, JSON and `util.inspect` forms all read `[REDACTED]`, so a Secret that
 * slips into a log line, an error message or a metric label leaks nothing. The raw
 * value is read only through `reveal()`, which the injection point and the vault
 * codec call and nothing else should.
 */
import { inspect } from 'node:util';

const REDACTED = '[REDACTED]';

export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  /** The raw value. Call only where the secret leaves the process (the outbound header or the vault frame). */
  reveal(): string {
    return this.#value;
  }

  /** True when `text` contains the secret; used by tripwires and leak checks, never to print it. */
  occursIn(text: string): boolean {
    return this.#value.length > 0 && text.includes(this.#value);
  }

  get length(): number {
    return this.#value.length;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }

  [Symbol.toPrimitive](): string {
    return REDACTED;
  }
}

export { REDACTED };
