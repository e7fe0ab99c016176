/** Types for scripts/node24.mjs (used by bench/). */
/** The pinned version, e.g. "24.22.3". */
export declare const NODE24_VERSION: string;
/** Where the binary lives once installed. */
export declare const NODE24_PATH: string;
/** The `process.version` a node binary reports, or undefined when it does not run. */
export declare function nodeVersionOf(bin: string): string | undefined;
/** Returns the path of the pinned Node 24 binary, installing it on first use. */
export declare function ensureNode24(): string;
