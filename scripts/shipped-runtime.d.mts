/** Types for scripts/shipped-runtime.mjs (used by the soak, the bench and test/packaging). */
export declare const SHIPPED_NODE_FLAGS: readonly string[];
export declare const SHIPPED_NODE_MAJOR: number;
export declare const SHIPPED_ENV: Readonly<Record<string, string>>;
export declare function nodeOptionsForLimit(limitMiB: number): string;
export declare function quantityToMiB(q: string | number): number;
export declare function chartDefaults(root: string, role?: 'sidecar' | 'gateway'): { limit: string; nodeOptions: string };
export declare const NODE_ENV_VAR: string;
export declare function resolveNode(
  choice: string | undefined,
  env?: NodeJS.ProcessEnv,
  opts?: { pinned?: () => string },
): { path: string; version: string; source: string; warning: string | undefined };
export declare function ensureDist(root: string, log: (line: string) => void): { entry: string; built: boolean };
export declare function newestMtime(dir: string): number;
