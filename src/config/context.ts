/**
 * The collector the semantic checks report into: every issue gets its YAML path and
 * line from the parsed document, and helpers convert the unit-bearing values
 * (durations, sizes) so each bad value is one located issue and checking goes on.
 */
import type { ConfigIssue } from '../errors.js';
import { parseDuration } from './duration.js';
import { parseByteSize } from './size.js';
import { formatPath, lineOf, type ParsedYaml, type Seg } from './yaml-doc.js';

export class Issues {
  readonly list: ConfigIssue[] = [];
  private readonly parsed: ParsedYaml;
  /** YAML paths (formatted) whose values came from the environment. */
  readonly fromEnv: ReadonlySet<string>;

  constructor(parsed: ParsedYaml, fromEnv: readonly string[]) {
    this.parsed = parsed;
    this.fromEnv = new Set(fromEnv);
  }

  /** Record a problem at `path`. */
  add(path: readonly Seg[], message: string): void {
    this.list.push({ path: formatPath(path), line: this.line(path), message });
  }

  line(path: readonly Seg[]): number | undefined {
    return lineOf(this.parsed, path);
  }

  /** A value quoted back in a message, unless it came from the environment (it might be a secret). */
  shown(path: readonly Seg[], value: string): string {
    return this.fromEnv.has(formatPath(path)) ? '(value from the environment)' : `"${value}"`;
  }

  /** Milliseconds, or the default when absent; an unparsable value is an issue (and yields the default). */
  duration(path: readonly Seg[], value: string | number | undefined, dflt: number): number {
    if (value === undefined) return dflt;
    try {
      return parseDuration(value);
    } catch (err) {
      this.add(path, (err as Error).message);
      return dflt;
    }
  }

  /** Bytes, or the default when absent; an unparsable value is an issue. */
  size(path: readonly Seg[], value: string | number | undefined, dflt: number): number {
    if (value === undefined) return dflt;
    try {
      return parseByteSize(value);
    } catch (err) {
      this.add(path, (err as Error).message);
      return dflt;
    }
  }
}
