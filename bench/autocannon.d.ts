/** The slice of autocannon 9's programmatic API that the benchmark uses (it ships no types). */
declare module 'autocannon' {
  interface Histogram {
    readonly average: number;
    readonly mean: number;
    readonly max: number;
    readonly min: number;
    readonly total: number;
    readonly p50: number;
    readonly p90: number;
    readonly p99: number;
  }
  interface Result {
    readonly requests: Histogram;
    readonly latency: Histogram;
    readonly throughput: Histogram;
    readonly duration: number;
    readonly errors: number;
    readonly timeouts: number;
    readonly non2xx: number;
  }
  interface Request {
    readonly method?: string;
    readonly path?: string;
    readonly headers?: Record<string, string>;
  }
  interface Options {
    readonly url: string;
    readonly connections?: number;
    readonly duration?: number;
    readonly timeout?: number;
    readonly pipelining?: number;
    readonly headers?: Record<string, string>;
    readonly requests?: readonly Request[];
  }
  function autocannon(opts: Options): Promise<Result>;
  export default autocannon;
}
