/** Exit codes (BSD sysexits where one fits), documented in docs/cli.md. */
export const EXIT = {
  OK: 0,
  /** A check ran and found problems (check-config), or an operation failed. */
  FAILURE: 1,
  /** Bad command line. */
  USAGE: 2,
  /** Configuration invalid or privacy rules violated. */
  CONFIG: 78,
  /** A needed service (the node, tor, i2p) is unavailable. */
  UNAVAILABLE: 69,
  /** Data could not be retrieved or failed verification. */
  DATA: 65,
  /** Internal error. */
  SOFTWARE: 70,
  /** Interrupted (SIGINT). */
  INTERRUPTED: 130,
} as const;
