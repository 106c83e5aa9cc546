/** The yollava command line: one module per command, answers on stdout, progress on stderr. */
import { ModelLoadError } from '../models/config.ts';
import { ReferenceError } from '../models/verifyReference.ts';
import { isInputError } from '../personalize/inputErrors.ts';
import { CliError } from './CliError.ts';
import { chatCommand, chatUsage } from './commands/chatCommand.ts';
import { conceptsCommand, conceptsUsage } from './commands/conceptsCommand.ts';
import { demoCommand, demoUsage } from './commands/demoCommand.ts';
import { evalCommand, evalUsage } from './commands/evalCommand.ts';
import { explainCommand, explainUsage } from './commands/explainCommand.ts';
import { recognizeCommand, recognizeUsage } from './commands/recognizeCommand.ts';
import { serveCommand, serveUsage } from './commands/serveCommand.ts';
import { trainCommand, trainUsage } from './commands/trainCommand.ts';
import { verifyCommand, verifyUsage } from './commands/verifyCommand.ts';

type Command = { run: (argv: string[]) => Promise<number>; summary: string; usage: string };

const commands: Record<string, Command> = {
  demo: { run: demoCommand, summary: 'learn a subject of the built-in world, then find it and talk about it', usage: demoUsage },
  train: { run: trainCommand, summary: 'learn a concept from a few photos of it', usage: trainUsage },
  chat: { run: chatCommand, summary: 'talk with the model, with or without a photo and concepts', usage: chatUsage },
  recognize: { run: recognizeCommand, summary: 'find a concept in photos: Yes/No and P(Yes), most likely first', usage: recognizeUsage },
  serve: { run: serveCommand, summary: 'the web UI and an HTTP API on one loaded model', usage: serveUsage },
  eval: { run: evalCommand, summary: 'evaluate baselines, concepts and ablations on a dataset: report with tables and plots', usage: evalUsage },
  explain: { run: explainCommand, summary: "what each of a concept's tokens holds", usage: explainUsage },
  concepts: { run: conceptsCommand, summary: 'the concept library: list, show, rename, delete, export, import', usage: conceptsUsage },
  verify: { run: verifyCommand, summary: 'check a checkpoint against reference outputs', usage: verifyUsage },
};

function usage(): string {
  const names = Object.keys(commands);
  const width = Math.max(...names.map((n) => n.length));
  return ['Usage: yollava <command> [options]', '', 'Commands:', ...names.map((n) => `  ${n.padEnd(width)}  ${commands[n].summary}`), '', 'yollava <command> --help shows a command\'s options.'].join('\n');
}

/** Errors a user can act on: printed as one line without a stack. */
function isUserError(error: unknown): error is Error {
  return error instanceof CliError || error instanceof ModelLoadError || error instanceof ReferenceError ||
    isInputError(error) ||
    (error instanceof Error && 'code' in error && String((error as { code: unknown }).code).startsWith('ERR_PARSE_ARGS'));
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`yollava: unknown command "${name}"\n\n${usage()}\n`);
    return 2;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    if (isUserError(error)) {
      process.stderr.write(`yollava ${name}: ${error.message}\n`);
      return error instanceof CliError ? error.exitCode : 2;
    }
    throw error;
  }
}
