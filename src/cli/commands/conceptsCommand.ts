/** `yollava concepts list|show|rename|delete|export|import`: the concept library. */
import { parseArgs } from 'node:util';
import { CliError } from '../CliError.ts';
import { openLibrary } from '../modelOption.ts';

export const conceptsUsage = `Usage: yollava concepts <action> [arguments] [--library <dir>]

  list                       the concepts in the library
  show <name>                a concept's base model, training settings, data and per-epoch metrics
  rename <name> <new-name>   rename (its tokens become <new-name>, <new-name_0>, …)
  delete <name>              remove a concept and its training data
  export <name> <file>       copy the concept file out (one portable .safetensors file)
  import <file> [--name n]   add a concept file to the library

The library is $YOLLAVA_HOME/concepts, else ~/.yollava/concepts, or --library <dir>.`;

export async function conceptsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { library: { type: 'string' }, name: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help || positionals.length === 0) { process.stdout.write(conceptsUsage + '\n'); return values.help ? 0 : 2; }
  const library = openLibrary(values.library);
  const [action, ...args] = positionals;
  const need = (count: number) => { if (args.length !== count) throw new CliError(`concepts ${action} takes ${count} argument(s)\n\n${conceptsUsage}`); };
  switch (action) {
    case 'list': {
      need(0);
      const entries = library.list();
      if (values.json) { process.stdout.write(JSON.stringify(entries.map((e) => ({ file: e.file, ...e.info })), null, 2) + '\n'); return 0; }
      if (entries.length === 0) { process.stderr.write(`no concepts in ${library.dir}\n`); return 0; }
      for (const { name, info } of entries) {
        const best = info.epochs.find((e) => e.epoch === info.bestEpoch);
        process.stdout.write(`${`<${name}>`.padEnd(20)} k=${info.latentCount}  ${best ? `recognition ${best.weightedAccuracy.toFixed(3)} (epoch ${best.epoch})` : 'untrained'}  ${info.createdAt.slice(0, 10)}  ${info.baseModel.source}\n`);
      }
      return 0;
    }
    case 'show': {
      need(1);
      const concept = library.load(args[0]);
      process.stdout.write(JSON.stringify({ file: library.conceptFile(concept.name), tokens: concept.tokens, ...concept.info }, null, 2) + '\n');
      return 0;
    }
    case 'rename': need(2); library.rename(args[0], args[1]); process.stderr.write(`renamed <${args[0]}> to <${args[1]}>\n`); return 0;
    case 'delete': need(1); library.delete(args[0]); process.stderr.write(`deleted <${args[0]}>\n`); return 0;
    case 'export': need(2); library.export(args[0], args[1]); process.stderr.write(`exported <${args[0]}> to ${args[1]}\n`); return 0;
    case 'import': {
      need(1);
      const concept = library.import(args[0], { name: values.name });
      process.stderr.write(`imported <${concept.name}> into ${library.dir}\n`);
      return 0;
    }
    default:
      throw new CliError(`unknown action "${action}"\n\n${conceptsUsage}`);
  }
}
