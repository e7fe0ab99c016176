/** Types for scripts/shipped-runtime.mjs (used by the soak, the bench and test/packaging). */
export declare const SHIPPED_NODE_FLAGS: readonly string[];
export declare const SHIPPED_NODE_MAJOR: number;
export declare const NODE_ENV_VAR: string;
export declare function resolveNode(
  choice: string | undefined,
  env?: NodeJS.ProcessEnv,
): { path: string; version: string; source: string; warning: string | undefined };
export declare function ensureDist(root: string, log: (line: string) => void): { entry: string; built: boolean };
