/**
 * `yollava chat`: talk with the model, with or without a photo, with any number of concepts.
 * One-shot with a prompt argument (or piped stdin); interactive otherwise. Answers stream to
 * stdout; everything else goes to stderr.
 */
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import type { ChatTurn, VisionLanguageModel } from '../../models/VisionLanguageModel.ts';
import { PERSONALIZATION_MODES, personalizationMode, type ConceptSet, type PersonalizationMode } from '../../personalize/ConceptSet.ts';
import { CliError } from '../CliError.ts';
import { collectPhotos } from '../collectPhotos.ts';
import { attachConcepts, modelOptions, modelOptionsHelp, openLibrary, openModel } from '../modelOption.ts';

export const chatUsage = `Usage: yollava chat [prompt…] [options]

With a prompt (or text piped on stdin), answers once; otherwise starts a conversation.
In a conversation: /image <path> starts over about a photo, /clear forgets the conversation,
/concepts lists the loaded concepts, /bye (or Ctrl-D) ends.

${modelOptionsHelp}
  -c, --concept <name>    load a concept (repeatable): talk about <name>
  -i, --image <path>      a photo for the first question
      --max-tokens <n>    answer length limit (default 256)
      --temperature <t>   0 (default) is greedy
      --top-p <p>         nucleus sampling mass (default 1)
      --seed <n>          sampling seed (default 0)
      --system <text>     the system prompt (llava_v1 models)
      --personalize <when>  mentioned (default): a concept's text goes into the prompt once
                          the conversation names it (<name>); all: every loaded concept's, always`;

interface ChatSettings {
  maxNewTokens: number;
  temperature: number;
  topP: number;
  seed: number;
  system?: string;
  personalize: PersonalizationMode;
}

async function answer(vlm: VisionLanguageModel, concepts: ConceptSet, turns: ChatTurn[], image: string | null, settings: ChatSettings, signal?: AbortSignal): Promise<string> {
  const personalization = concepts.personalizationFor(turns.flatMap((turn) => [turn.user, turn.assistant ?? '']), settings.personalize);
  const prompt = vlm.prompt(turns, { image: image !== null, personalization, system: settings.system });
  const images = image ? [await vlm.imageFeatures(image)] : [];
  const result = await vlm.generate(prompt, images, {
    maxNewTokens: settings.maxNewTokens, temperature: settings.temperature, topP: settings.topP, seed: settings.seed,
    extra: concepts.extraTokens(), signal, stopStrings: ['USER:', '</s>'],
    onText: (chunk) => process.stdout.write(chunk),
  });
  process.stdout.write('\n');
  return result.text;
}

function personalizeMode(value: string | undefined): PersonalizationMode {
  const mode = personalizationMode(value);
  if (mode === null) throw new CliError(`--personalize must be ${PERSONALIZATION_MODES.join(' or ')}, got ${value}`);
  return mode;
}

export async function chatCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: {
      ...modelOptions, concept: { type: 'string', short: 'c', multiple: true }, image: { type: 'string', short: 'i' },
      'max-tokens': { type: 'string' }, temperature: { type: 'string' }, 'top-p': { type: 'string' }, seed: { type: 'string' },
      system: { type: 'string' }, personalize: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) { process.stdout.write(chatUsage + '\n'); return 0; }
  const number = (name: string, value: string | undefined, fallback: number, check: (x: number) => boolean) => {
    if (value === undefined) return fallback;
    const x = Number(value);
    if (!check(x)) throw new CliError(`--${name} ${value} is not valid`);
    return x;
  };
  const settings: ChatSettings = {
    maxNewTokens: number('max-tokens', values['max-tokens'], 256, (x) => Number.isInteger(x) && x > 0),
    temperature: number('temperature', values.temperature, 0, (x) => x >= 0),
    topP: number('top-p', values['top-p'], 1, (x) => x > 0 && x <= 1),
    seed: number('seed', values.seed, 0, Number.isInteger),
    system: values.system,
    personalize: personalizeMode(values.personalize),
  };
  let image = values.image ? collectPhotos([values.image])[0] : null;
  const library = openLibrary(values.library);
  const names = values.concept ?? [];
  for (const name of names) library.load(name); // fail on a missing concept before loading the model
  const vlm = await openModel(values.model);
  const concepts = attachConcepts(vlm, library, names);

  let oneShot = positionals.join(' ').trim();
  if (!oneShot && !process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    oneShot = Buffer.concat(chunks).toString('utf8').trim();
    if (!oneShot) throw new CliError('no prompt given (argument or stdin)');
  }
  if (oneShot) {
    await answer(vlm, concepts, [{ user: oneShot }], image, settings);
    return 0;
  }

  const rl = createInterface({ input: process.stdin, output: process.stderr });
  process.stderr.write(`chatting with ${vlm.source}${names.length ? ` about ${names.map((n) => `<${n}>`).join(', ')}` : ''}${image ? ` and ${image}` : ''}; /bye to end\n`);
  const turns: ChatTurn[] = [];
  let generation: AbortController | null = null;
  rl.on('SIGINT', () => { if (generation) generation.abort(); else rl.close(); });
  try {
    for (;;) {
      let line: string;
      try { line = (await rl.question('>>> ')).trim(); } catch { break; }
      if (!line) continue;
      if (line === '/bye' || line === '/exit') break;
      if (line === '/clear') { turns.length = 0; process.stderr.write('(conversation cleared)\n'); continue; }
      if (line === '/concepts') { process.stderr.write((names.map((n) => `<${n}>`).join(', ') || '(none)') + '\n'); continue; }
      if (line.startsWith('/image')) {
        const path = line.slice('/image'.length).trim();
        try { image = collectPhotos([path])[0]; } catch (error) { process.stderr.write(`${(error as Error).message}\n`); continue; }
        turns.length = 0;
        process.stderr.write(`(new conversation about ${image})\n`);
        continue;
      }
      if (line.startsWith('/')) { process.stderr.write('commands: /image <path>, /clear, /concepts, /bye\n'); continue; }
      turns.push({ user: line });
      generation = new AbortController();
      try {
        const text = await answer(vlm, concepts, turns, image, settings, generation.signal);
        turns[turns.length - 1] = { user: line, assistant: text };
      } catch (error) {
        turns.pop();
        process.stderr.write(`error: ${(error as Error).message}\n`);
      } finally {
        generation = null;
      }
    }
  } finally {
    rl.close();
  }
  return 0;
}
