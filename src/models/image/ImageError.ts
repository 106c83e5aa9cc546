/** What went wrong while reading, decoding or encoding an image. */
export type ImageErrorCode =
  | 'not-found'
  | 'not-a-file'
  | 'unreadable'
  | 'empty'
  | 'unsupported-format'
  | 'truncated'
  | 'corrupt'
  | 'too-large'
  | 'encode-failed';

/**
 * An image could not be read, decoded or written. The message names the file (or the
 * caller's `source` label for buffers) and the problem; the underlying library error, if
 * any, is kept as `cause` for debugging.
 */
export class ImageError extends Error {
  readonly code: ImageErrorCode;
  /** The file path, or the label given for an in-memory buffer. */
  readonly source: string;

  constructor(code: ImageErrorCode, source: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ImageError';
    this.code = code;
    this.source = source;
  }
}
