/**
 * What a client of `yollava serve` waits, over loopback HTTP: recognition per photo (100 photos
 * in one request, base64 PNGs decoded, tower, one forward each) and a streamed chat answer
 * (first chunk, whole answer, tokens per second), on the shipped model with a concept.
 *
 *   node --import tsx bench/serverLatency.ts --library DIR --concept NAME --photos DIR [--model models/yollava-world]
 *
 * (After `yollava demo --library DIR`: --concept muto --photos ~/.yollava/demo/world-0-pool-1000/yollava-data/pool.)
 */
import { readFileSync, readdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { VisionLanguageModel } from '../src/models/VisionLanguageModel.ts';
import { ConceptLibrary } from '../src/personalize/ConceptLibrary.ts';
import { YollavaServer } from '../src/server/YollavaServer.ts';
const { values } = parseArgs({ options: { model: { type: 'string', default: 'models/yollava-world' }, library: { type: 'string' }, concept: { type: 'string' }, photos: { type: 'string' } } });
if (!values.library || !values.concept || !values.photos) throw new Error('--library, --concept and --photos are required');
const concept = values.concept;
const server = new YollavaServer({ vlm: await VisionLanguageModel.load(values.model!), library: new ConceptLibrary(values.library) });
const url = await server.listen(0);
const dir = values.photos;
const photos = readdirSync(dir).filter((f) => /\.(png|jpe?g|webp)$/i.test(f)).slice(0, 100).map((f) => readFileSync(join(dir, f)).toString('base64'));
const post = (path: string, body: unknown) => fetch(url + path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
await (await post('/api/recognize', { concept, images: photos.slice(0, 2) })).json(); // warm
let t = performance.now();
await (await post('/api/recognize', { concept, images: photos })).json();
console.log('recognize 100 photos', ((performance.now() - t) / 100).toFixed(1), 'ms/photo');
const times: number[] = []; const firsts: number[] = []; let tokens = 0;
for (let i = 0; i < 5; i++) {
  t = performance.now();
  const r = await post('/api/chat', { messages: [{ role: 'user', content: `Describe <${concept}>.` }], concepts: [concept], image: photos[i], stream: true });
  const reader = r.body!.getReader(); let first = 0; let text = '';
  for (;;) { const { value, done } = await reader.read(); if (done) break; if (!first) first = performance.now() - t; text += new TextDecoder().decode(value); }
  times.push(performance.now() - t); firsts.push(first);
  tokens += JSON.parse(text.trim().split('\n').pop()!).newTokens;
}
console.log('chat: first chunk', (firsts.reduce((a, b) => a + b) / 5).toFixed(0), 'ms; whole answer', (times.reduce((a, b) => a + b) / 5).toFixed(0), 'ms;', (tokens / 5).toFixed(1), 'tokens; ', (tokens / (times.reduce((a, b) => a + b) / 1000)).toFixed(0), 'tokens/s');
await server.close();
