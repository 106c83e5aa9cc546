/** `yollava serve`: the HTTP API and the web UI on one loaded model, until Ctrl-C. */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { YollavaServer } from '../../server/YollavaServer.ts';
import { CliError } from '../CliError.ts';
import { DEFAULT_MODEL_DIR, modelOptions, modelOptionsHelp, openLibrary, openModel } from '../modelOption.ts';
import { demoWorldDir } from './demoCommand.ts';

export const serveUsage = `Usage: yollava serve [options]

Serves the web UI (learn a concept from photos, chat about a photo with your concepts, find a
concept in a photo) and a JSON API on one loaded model (README, "yollava serve"). Requests
are answered one at a time.

${modelOptionsHelp}
  -n, --negatives <folder>  a pool of other images that concepts learned in the web UI draw
                          negatives from (as yollava train -n; default for the shipped
                          model: the pool yollava demo wrote); without one they learn
                          from your photos alone and answer "Yes" too easily
  -p, --port <n>          port (default 8737; 0 picks a free one)
      --host <address>    address to listen on (default 127.0.0.1: this machine only)
      --quiet             no request log on stderr`;

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** For the shipped model: the pool `yollava demo` wrote, if it is there (its pictures are of the same world). */
function defaultNegativePool(modelSource: string): string | undefined {
  const pool = join(demoWorldDir(), 'yollava-data', 'pool');
  return resolve(modelSource) === DEFAULT_MODEL_DIR && existsSync(pool) ? pool : undefined;
}

export async function serveCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: { ...modelOptions, negatives: { type: 'string', short: 'n' }, port: { type: 'string', short: 'p' }, host: { type: 'string' }, quiet: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) { process.stdout.write(serveUsage + '\n'); return 0; }
  if (positionals.length > 0) throw new CliError(`serve takes no arguments, got ${positionals.join(' ')}\n\n${serveUsage}`);
  const port = values.port === undefined ? 8737 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError(`--port must be a port number (0–65535), got ${values.port}`);
  const host = values.host ?? '127.0.0.1';
  const library = openLibrary(values.library);
  if (values.negatives !== undefined && !existsSync(values.negatives)) throw new CliError(`--negatives ${values.negatives}: no such folder`);
  const vlm = await openModel(values.model);
  const negativePool = values.negatives ?? defaultNegativePool(vlm.source);
  const server = new YollavaServer({ vlm, library, negativePool, log: values.quiet ? undefined : (line) => process.stderr.write(`${line}\n`) });
  let url: string;
  try {
    url = await server.listen(port, host);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new CliError(`port ${port} on ${host} is in use; pass --port <n> (0 picks a free one)`);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new CliError(`cannot listen on ${host}: no such address on this machine`);
    throw error;
  }
  if (!LOOPBACK.has(host)) process.stderr.write(`warning: listening on ${host}: anyone who can reach it can use the model and read the concept list (there is no authentication)\n`);
  // The URL goes to stdout so that scripts can read where it listens.
  process.stdout.write(`${url}/\n`);
  process.stderr.write(`serving ${vlm.source} with the concepts in ${library.dir}; Ctrl-C stops\n`);
  process.stderr.write(negativePool
    ? `concepts learned here draw negatives from ${negativePool}${values.negatives ? '' : ' (the demo world\'s pool; -n sets another)'}\n`
    : `no negative pool: concepts learned here answer "Yes" too easily; -n <folder> gives them one${resolve(vlm.source) === DEFAULT_MODEL_DIR ? ' (`yollava demo` writes one for the shipped model)' : ''}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => { process.stderr.write('stopping\n'); void server.close().then(resolve); };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}
