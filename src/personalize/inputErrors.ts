/**
 * Errors about what a user gave (a file, a folder, a name, a photo, a concept): their message
 * names the thing and the problem, so the command line prints it as one line and the server
 * answers it with 400, never a stack trace. Matched by name: the classes live in several layers.
 */
const INPUT_ERROR_NAMES = new Set([
  'SafetensorsError', 'TokenizerError', 'ImageError', 'PreprocessorConfigError', 'ConceptError', 'ConceptDataError', 'PromptError', 'ImageIndexError', 'EmbeddingError',
]);

export function isInputError(error: unknown): error is Error {
  return error instanceof Error && INPUT_ERROR_NAMES.has(error.name);
}
