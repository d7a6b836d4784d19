/** Major.minor of the panel <-> companion protocol; a major mismatch refuses the connection. */
export const PROTOCOL_VERSION = '2.1' as const;
