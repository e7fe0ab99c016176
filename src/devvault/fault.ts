/**
 * A refusal the development vault sends as a wire error
 * `{code, message, suggestion?, context?}`. Messages are written here, never copied
 * from credential values, so an error frame cannot carry a secret.
 */
export class Fault extends Error {
  readonly code: string;
  readonly suggestion: string | undefined;
  readonly context: Record<string, unknown> | undefined;

  constructor(code: string, message: string, extra: { suggestion?: string; context?: Record<string, unknown> } = {}) {
    super(message);
    this.name = 'Fault';
    this.code = code;
    this.suggestion = extra.suggestion;
    this.context = extra.context;
  }

  toWire(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      ...(this.suggestion !== undefined ? { suggestion: this.suggestion } : {}),
      ...(this.context !== undefined ? { context: this.context } : {}),
    };
  }
}
