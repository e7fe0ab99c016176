/** Types for scripts/routes-validator.mjs (used by test/unit/config/routes-validator.test.ts). */
export declare const GENERATED: string;
export declare function generateRoutesValidator(schema: object): string;
