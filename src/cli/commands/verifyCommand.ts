/** `yollava verify <model-dir> --reference <file>`: checks a checkpoint against reference outputs. */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadLlava } from '../../models/loadLlava.ts';
import { verifyReference } from '../../models/verifyReference.ts';
import { CliError } from '../CliError.ts';

export const verifyUsage = `Usage: yollava verify <model-dir> --reference <reference.safetensors>

Runs the checkpoint in <model-dir> (Hugging Face LLaVA layout) on the inputs stored in the
reference file (pixel_values, input_ids, text_input_ids, soft_* …, any subset) and compares
every output tensor present with the stored one, at the fixtures' tolerances:
activations and logits max |Δ| ≤ 1e-4, losses |Δ| ≤ 1e-5, gradients max|Δ|/max|ref| ≤ 1e-4,
generated ids exact. Exit code: 0 all pass, 1 a tensor fails, 2 bad input.`;

export async function verifyCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { reference: { type: 'string', short: 'r' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) { process.stdout.write(verifyUsage + '\n'); return 0; }
  if (positionals.length !== 1) throw new CliError(`verify needs exactly one <model-dir>\n\n${verifyUsage}`);
  if (!values.reference) throw new CliError(`verify needs --reference <file>\n\n${verifyUsage}`);
  if (!existsSync(values.reference)) throw new CliError(`${values.reference}: reference file not found`);
  const started = performance.now();
  const { model, unusedTensors } = loadLlava(positionals[0]);
  if (unusedTensors.length) process.stderr.write(`note: ${unusedTensors.length} checkpoint tensor(s) unused: ${unusedTensors.slice(0, 5).join(', ')}${unusedTensors.length > 5 ? ', …' : ''}\n`);
  const rows = verifyReference(model, values.reference);
  if (rows.length === 0) throw new CliError(`${values.reference}: holds none of the tensors verify knows (see yollava verify --help)`);
  const width = Math.max(...rows.map((row) => row.tensor.length), 6);
  const lines = [`${'tensor'.padEnd(width)}  ${'measure'.padEnd(10)}  ${'error'.padStart(10)}  ${'tolerance'.padStart(9)}  result`];
  for (const row of rows) {
    const error = row.measure === 'mismatches' ? String(row.error) : row.error.toExponential(2);
    const tolerance = row.measure === 'mismatches' ? '0' : row.tolerance.toExponential(0);
    lines.push(`${row.tensor.padEnd(width)}  ${row.measure.padEnd(10)}  ${error.padStart(10)}  ${tolerance.padStart(9)}  ${row.pass ? 'pass' : 'FAIL'}`);
  }
  const failed = rows.filter((row) => !row.pass).length;
  lines.push('', `${rows.length - failed} passed, ${failed} failed (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  process.stdout.write(lines.join('\n') + '\n');
  return failed ? 1 : 0;
}
