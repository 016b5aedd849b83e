import type { ErrorCode } from '../protocol/feed.ts';

/** A command or request the feed refuses, with the protocol's error code and the id it concerns. */
export class FeedError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly ref?: string,
  ) {
    super(message);
  }
}
