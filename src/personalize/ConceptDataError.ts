/** Bad training data of a concept (a bad name, no photos, a malformed data file): a message the user can act on. */
export class ConceptDataError extends Error {
  /** The file the problem is in, when there is one. */
  readonly file: string | undefined;
  constructor(message: string, options: { file?: string; cause?: unknown } = {}) {
    super(options.file === undefined ? message : `${options.file}: ${message}`, { cause: options.cause });
    this.name = 'ConceptDataError';
    this.file = options.file;
  }
}
