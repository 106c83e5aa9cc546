/**
 * The HTTP server over real loopback HTTP, on a tiny checkpoint and a concept trained through
 * the API: every answer is checked against the library called directly with the same inputs;
 * bad requests get a status and a message; `yollava serve` as a real process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { readSafetensors, readSafetensorsHeader, writeSafetensors } from '../../src/engine/safetensors.ts';
import { VisionLanguageModel } from '../../src/models/VisionLanguageModel.ts';
import { buildConceptData } from '../../src/personalize/conceptData.ts';
import { ConceptLibrary } from '../../src/personalize/ConceptLibrary.ts';
import { ConceptSet } from '../../src/personalize/ConceptSet.ts';
import { createConcept } from '../../src/personalize/createConcept.ts';
import { recognize } from '../../src/personalize/recognize.ts';
import { trainConcept } from '../../src/personalize/trainConcept.ts';
import sharp from 'sharp';
import { YollavaServer } from '../../src/server/YollavaServer.ts';
import { repoRoot } from '../helpers/fixtures.ts';
import { makeTinyCheckpoint } from '../helpers/tinyCheckpoint.ts';
import { makeTinyConceptLibrary } from '../helpers/tinyConceptLibrary.ts';

async function post(url: string, body: unknown): Promise<{ status: number; json: any }> {
  const response = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, json: await response.json() };
}

const dataUrl = (path: string) => `data:image/png;base64,${readFileSync(path).toString('base64')}`;

test('the server answers as the library does, and refuses bad requests clearly', async (t) => {
  const { tiny, library, vlm: trainingModel } = await makeTinyConceptLibrary(t);

  const logged: string[] = [];
  const server = new YollavaServer({ vlm: await VisionLanguageModel.load(tiny.dir), library, maxBodyBytes: 200_000, log: (line) => logged.push(line) });
  const url = await server.listen(0);
  t.after(() => server.close());
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);

  // What the library says, on a model of its own.
  const reference = await VisionLanguageModel.load(tiny.dir);
  const set = new ConceptSet(reference);
  set.add(library.load('bo'));
  const expected = async (question: string, personalized: boolean, photo: string | null) => (await reference.generate(
    reference.prompt([{ user: question }], { image: photo !== null, personalization: personalized ? set.concepts[0].personalization : undefined }),
    photo ? [await reference.imageFeatures(photo)] : [], { maxNewTokens: 6, extra: set.extraTokens(), stopStrings: ['USER:', '</s>'] })).text;

  const model = await (await fetch(`${url}/api/model`)).json() as any;
  assert.equal(model.source, tiny.dir);
  assert.equal(model.imageTokens, reference.model.imageTokenCount);
  const { concepts } = await (await fetch(`${url}/api/concepts`)).json() as any;
  assert.deepEqual(concepts.map((c: any) => [c.name, c.identifier, c.latentTokens, c.fitsModel]), [['bo', '<bo>', 2, true]]);

  const named = await post(`${url}/api/chat`, { messages: [{ role: 'user', content: 'What is <bo> doing?' }], image: dataUrl(tiny.photos[2]), concepts: ['bo'], maxTokens: 6 });
  assert.equal(named.status, 200, named.json.error);
  assert.deepEqual(named.json.personalized, ['<bo>']);
  assert.equal(named.json.text, await expected('What is <bo> doing?', true, tiny.photos[2]));
  assert.ok(named.json.newTokens >= 1 && named.json.newTokens <= 6);

  // A concept that the conversation does not name stays out of the prompt (unless asked for).
  const unnamed = await post(`${url}/api/chat`, { messages: [{ role: 'user', content: 'Describe the photo.' }], image: dataUrl(tiny.photos[2]), concepts: ['<bo>'], maxTokens: 6 });
  assert.deepEqual(unnamed.json.personalized, []);
  assert.equal(unnamed.json.text, await expected('Describe the photo.', false, tiny.photos[2]));
  const all = await post(`${url}/api/chat`, { messages: [{ role: 'user', content: 'Describe the photo.' }], image: dataUrl(tiny.photos[2]), concepts: ['bo'], personalize: 'all', maxTokens: 6 });
  assert.deepEqual(all.json.personalized, ['<bo>']);
  assert.equal(all.json.text, await expected('Describe the photo.', true, tiny.photos[2]));

  // Streaming: NDJSON chunks that add up to the final text, which equals the plain answer.
  const streamed = await fetch(`${url}/api/chat`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'What is <bo> doing?' }], image: dataUrl(tiny.photos[2]), concepts: ['bo'], maxTokens: 6, stream: true }),
  });
  assert.match(streamed.headers.get('content-type') ?? '', /application\/x-ndjson/);
  const lines = (await streamed.text()).trim().split('\n').map((line) => JSON.parse(line));
  const final = lines.pop();
  assert.equal(final.done, true);
  assert.equal(final.text, named.json.text);
  assert.equal(lines.map((line) => line.text).join('').trim(), final.text);

  // A conversation: the earlier answer is part of the prompt.
  const second = await post(`${url}/api/chat`, {
    messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello' }, { role: 'user', content: 'Who is <bo>?' }], concepts: ['bo'], maxTokens: 6,
  });
  const secondPrompt = reference.prompt([{ user: 'Hi', assistant: 'Hello' }, { user: 'Who is <bo>?' }], { personalization: set.concepts[0].personalization });
  assert.equal(second.json.text, (await reference.generate(secondPrompt, [], { maxNewTokens: 6, extra: set.extraTokens(), stopStrings: ['USER:', '</s>'] })).text);

  // Recognition: the same probabilities as the library's on the files.
  const found = await post(`${url}/api/recognize`, { concept: 'bo', images: tiny.photos.map(dataUrl) });
  assert.equal(found.status, 200, found.json.error);
  const direct = await recognize(reference, set, set.concepts[0], tiny.photos);
  assert.equal(found.json.concept, '<bo>');
  for (const [i, result] of found.json.results.entries()) {
    assert.ok(Math.abs(result.probability - direct[i].probability) < 1e-6, `photo ${i}: ${result.probability} vs ${direct[i].probability}`);
    assert.equal(result.answer, direct[i].probability >= 0.5 ? 'Yes' : 'No');
  }
  assert.equal(found.json.question, 'Can you see if <bo> is in this photo? Answer with a single word or phrase.');
  const otherWords = await post(`${url}/api/recognize`, { concept: 'bo', images: [dataUrl(tiny.photos[0])], question: 'Is <bo> in this photo?' });
  assert.equal(otherWords.status, 200, otherWords.json.error);
  assert.equal(otherWords.json.question, 'Is <bo> in this photo?');
  const [directOtherWords] = await recognize(reference, set, set.concepts[0], [tiny.photos[0]], { question: 'Is <sks> in this photo?' });
  assert.ok(Math.abs(otherWords.json.results[0].probability - directOtherWords.probability) < 1e-6);

  // A concept retrained while the server runs is read again.
  const retrainedData = buildConceptData({ name: 'bo', positives: [tiny.photos[1]], easyNegatives: [tiny.photos[0]], questionsPerPositive: 2 });
  const { concept: retrained } = await trainConcept(trainingModel, retrainedData, { latentCount: 3, epochs: 1 });
  await new Promise((resolve) => setTimeout(resolve, 20)); // a new modification time
  library.save(retrained, retrainedData);
  const again = await post(`${url}/api/recognize`, { concept: 'bo', images: [dataUrl(tiny.photos[0])] });
  const fresh = new ConceptSet(await VisionLanguageModel.load(tiny.dir));
  fresh.add(library.load('bo'));
  const [freshResult] = await recognize(fresh.vlm, fresh, fresh.concepts[0], [tiny.photos[0]]);
  assert.ok(Math.abs(again.json.results[0].probability - freshResult.probability) < 1e-6);
  assert.equal(((await (await fetch(`${url}/api/concepts`)).json()) as any).concepts[0].latentTokens, 3);

  // Bad requests: a status and a message that names the problem.
  const bad = async (path: string, init: RequestInit, status: number, message: RegExp) => {
    const response = await fetch(`${url}${path}`, init);
    const body = await response.json() as any;
    assert.equal(response.status, status, `${path}: ${JSON.stringify(body)}`);
    assert.match(body.error, message);
  };
  const json = (body: unknown): RequestInit => ({ method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  await bad('/api/chat', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"messages": [' }, 400, /not valid JSON/);
  await bad('/api/chat', { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: 'hello' }, 415, /must be JSON/);
  await bad('/api/chat', json({ messages: [] }), 400, /"messages" must be a non-empty list/);
  await bad('/api/chat', json({ messages: [{ role: 'assistant', content: 'Hi' }] }), 400, /messages\[0\]\.role must be "user"/);
  await bad('/api/chat', json({ messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello' }] }), 400, /last message must be the user's/);
  await bad('/api/chat', json({ messages: [{ role: 'user', content: 'Hi' }], maxTokens: 0 }), 400, /"maxTokens" must be an integer from 1 to 1024/);
  await bad('/api/chat', json({ messages: [{ role: 'user', content: 'Hi' }], personalize: 'sometimes' }), 400, /"personalize" must be "mentioned" or "all", got "sometimes"/);
  await bad('/api/chat', json({ messages: [{ role: 'user', content: 'Hi' }], concepts: ['nobody'] }), 404, /no concept "nobody" in the library \(have: bo\)/);
  await bad('/api/chat', json({ messages: [{ role: 'user', content: 'Hi' }], image: 'data:image/png;base64,aGVsbG8=' }), 400, /the image: not an image/);
  await bad('/api/recognize', json({ concept: 'bo', images: [dataUrl(tiny.photos[0]), 'bm90IGFuIGltYWdl'] }), 400, /images\[1\]: not an image/);
  await bad('/api/recognize', json({ images: [dataUrl(tiny.photos[0])] }), 400, /"concept" .* is required/);
  await bad('/api/recognize', json({ concept: 'bo', images: [dataUrl(tiny.photos[0])], question: 'Is the dog here?' }), 400, /"question" must name the concept as <bo>/);
  await bad('/api/recognize', json({ concept: 'bo', images: ['x'.repeat(300_000)] }), 413, /over the limit of 200000 bytes/);
  await bad('/api/chat', { method: 'GET' }, 405, /answers POST only/);
  await bad('/api/nothing', { method: 'GET' }, 404, /no such path/);
  assert.ok(logged.some((line) => /^POST \/api\/chat 400 \d+ ms: "messages" must be a non-empty list/.test(line)), 'the log says why a request failed');
  assert.ok(logged.some((line) => /^GET \/api\/model 200 \d+ ms$/.test(line)));

  // A client that goes away mid-answer does not block the next request.
  await new Promise<void>((resolve) => {
    const body = JSON.stringify({ messages: [{ role: 'user', content: 'Tell me everything.' }], maxTokens: 1024, stream: true });
    const request = httpRequest(`${url}/api/chat`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } }, (response) => {
      response.once('data', () => { request.destroy(); resolve(); });
    });
    request.on('error', () => resolve());
    request.end(body);
  });
  const after = await post(`${url}/api/chat`, { messages: [{ role: 'user', content: 'Describe the photo.' }], image: dataUrl(tiny.photos[2]), maxTokens: 6 });
  assert.equal(after.status, 200);
  assert.equal(after.json.text, await expected('Describe the photo.', false, tiny.photos[2]));

  // The web UI's files.
  const page = await fetch(`${url}/`);
  assert.match(page.headers.get('content-type') ?? '', /text\/html/);
  assert.match(await page.text(), /<script type="module" src="app.js">/);
  assert.equal((await fetch(`${url}/app.js`)).status, 200);
});

test('concepts are renamed, exported and imported through the API, as the library does it', async (t) => {
  const { tiny, library } = await makeTinyConceptLibrary(t);
  const server = new YollavaServer({ vlm: await VisionLanguageModel.load(tiny.dir), library });
  const url = await server.listen(0);
  t.after(() => server.close());
  const send = async (method: string, path: string, body: unknown) => {
    const response = await fetch(`${url}${path}`, { method, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    return { status: response.status, json: await response.json() as any };
  };
  const probability = async (name: string) => {
    const found = await post(`${url}/api/recognize`, { concept: name, images: [dataUrl(tiny.photos[0])] });
    assert.equal(found.status, 200, found.json.error);
    return found.json.results[0].probability as number;
  };
  const names = async () => ((await (await fetch(`${url}/api/concepts`)).json()) as any).concepts.map((c: any) => c.name);
  const before = await probability('bo'); // attached, so a rename must detach it

  // Export: the library's file, byte for byte, named for saving.
  const exported = await fetch(`${url}/api/concepts/bo/file`);
  assert.equal(exported.status, 200);
  assert.match(exported.headers.get('content-disposition') ?? '', /attachment; filename="bo\.concept\.safetensors"/);
  const file = Buffer.from(await exported.arrayBuffer());
  assert.deepEqual(file, readFileSync(library.conceptFile('bo')));

  // Rename: the concept answers under its new name, with the same rows.
  const renamed = await send('PATCH', '/api/concepts/bo', { name: '<rex>' });
  assert.equal(renamed.status, 200, renamed.json.error);
  assert.deepEqual(renamed.json.renamed, { from: '<bo>', to: '<rex>' });
  assert.deepEqual(await names(), ['rex']);
  assert.equal(library.load('rex').identifier, '<rex>');
  assert.equal(await probability('rex'), before);
  assert.equal((await post(`${url}/api/recognize`, { concept: 'bo', images: [dataUrl(tiny.photos[0])] })).status, 404);

  // Import: the exported file comes back under its own name, then under another; a clash is refused unless overwriting.
  const imported = await post(`${url}/api/concepts/import`, { file: `data:application/octet-stream;base64,${file.toString('base64')}` });
  assert.equal(imported.status, 200, imported.json.error);
  assert.equal(imported.json.imported, '<bo>');
  assert.deepEqual(await names(), ['bo', 'rex']);
  assert.equal(await probability('bo'), before);
  const clash = await post(`${url}/api/concepts/import`, { file: file.toString('base64') });
  assert.equal(clash.status, 409);
  assert.match(clash.json.error, /a concept named "bo" already exists/);
  assert.equal((await post(`${url}/api/concepts/import`, { file: file.toString('base64'), name: 'bo2' })).status, 200);
  assert.equal(library.load('bo2').identifier, '<bo2>');
  // Overwriting replaces the concept whole: the training data of the one replaced goes with it.
  assert.ok(existsSync(library.dataFile('rex')));
  assert.equal((await post(`${url}/api/concepts/import`, { file: file.toString('base64'), name: 'rex', overwrite: true })).status, 200);
  assert.equal(existsSync(library.dataFile('rex')), false);
  assert.equal(await probability('rex'), before);
  assert.deepEqual(await names(), ['bo', 'bo2', 'rex']);

  // Bad requests name the problem; nothing half-written is left in the library.
  const junk = await post(`${url}/api/concepts/import`, { file: Buffer.from('not a concept').toString('base64') });
  assert.equal(junk.status, 400);
  assert.match(junk.json.error, /^the uploaded file: /);
  assert.equal((await post(`${url}/api/concepts/import`, {})).status, 400);
  // A file whose own name would reach outside the library is refused before anything is written.
  const stored = readSafetensors(library.conceptFile('bo'));
  const metadata = { ...readSafetensorsHeader(library.conceptFile('bo')).metadata };
  metadata.concept = JSON.stringify({ ...JSON.parse(metadata.concept), name: '../evil' });
  const crafted = join(dirname(library.dir), 'crafted.safetensors');
  writeSafetensors(crafted, Object.fromEntries([...stored].map(([key, tensor]) => [key, { shape: tensor.shape, data: tensor.data }])), metadata);
  const evil = await post(`${url}/api/concepts/import`, { file: readFileSync(crafted).toString('base64') });
  assert.equal(evil.status, 400);
  assert.match(evil.json.error, /^the uploaded file: /);
  assert.equal(existsSync(join(dirname(library.dir), 'evil.concept.safetensors')), false);
  const taken = await send('PATCH', '/api/concepts/rex', { name: 'bo' });
  assert.equal(taken.status, 409);
  assert.match(taken.json.error, /a concept named "bo" already exists/);
  const badName = await send('PATCH', '/api/concepts/rex', { name: '../x' });
  assert.equal(badName.status, 400);
  assert.equal((await fetch(`${url}/api/concepts/nobody/file`)).status, 404);
  assert.deepEqual(readdirSync(library.dir).filter((f) => f.startsWith('.')), []);
  assert.deepEqual(await names(), ['bo', 'bo2', 'rex']);
});

test('yollava serve runs as a process, prints where it listens and stops on SIGTERM', async (t) => {
  const tiny = await makeTinyCheckpoint(t);
  const home = mkdtempSync(join(tmpdir(), 'yollava-serve-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'yollava.mjs'), 'serve', '--model', tiny.dir, '--port', '0', '--quiet'], {
    env: { ...process.env, YOLLAVA_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => child.kill('SIGKILL'));
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
  });
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  assert.deepEqual(((await (await fetch(`${url}api/concepts`)).json()) as any).concepts, []);
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);
  assert.match(stderr, /no negative pool: concepts learned here answer "Yes" too easily; -n <folder> gives them one\n/);

  const taken = spawn(process.execPath, [join(repoRoot, 'bin', 'yollava.mjs'), 'serve', '--model', tiny.dir, '--port', 'many'], { env: { ...process.env, YOLLAVA_HOME: home } });
  let takenErr = '';
  taken.stderr.on('data', (chunk) => { takenErr += chunk; });
  assert.equal(await new Promise((resolve) => taken.once('exit', resolve)), 2);
  assert.match(takenErr, /--port must be a port number/);
});

test('a concept learned through the server equals createConcept on the same photos, and is usable at once', async (t) => {
  const tiny = await makeTinyCheckpoint(t, { photos: 6 });
  const home = mkdtempSync(join(tmpdir(), 'yollava-learn-'));
  const previousHome = process.env.YOLLAVA_HOME;
  process.env.YOLLAVA_HOME = home; // the negative pool's index goes here
  t.after(() => {
    if (previousHome === undefined) delete process.env.YOLLAVA_HOME; else process.env.YOLLAVA_HOME = previousHome;
    rmSync(home, { recursive: true, force: true });
  });
  const pool = join(home, 'pool');
  mkdirSync(pool);
  for (const photo of tiny.photos.slice(2)) copyFileSync(photo, join(pool, basename(photo)));
  const library = new ConceptLibrary(join(home, 'concepts'));
  const server = new YollavaServer({ vlm: await VisionLanguageModel.load(tiny.dir), library, negativePool: pool });
  const url = await server.listen(0);
  t.after(() => server.close());

  const response = await fetch(`${url}/api/concepts`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: 'mo', photos: tiny.photos.slice(0, 2).map(dataUrl), epochs: 1 }),
  });
  assert.equal(response.status, 200);
  const lines = (await response.text()).trim().split('\n').map((line) => JSON.parse(line));
  const final = lines.pop();
  assert.equal(final.done, true, JSON.stringify(final));
  assert.equal(final.interrupted, false);
  assert.deepEqual([final.concept.name, final.concept.fitsModel, final.concept.latentTokens], ['mo', true, 16]);
  const stages = [...new Set(lines.map((line) => line.progress.stage))];
  assert.deepEqual(stages, ['index', 'negatives', 'conversations', 'description', 'training']);

  // The photos were kept in the library's uploads; the same call of the library on them gives the same rows.
  const data = library.loadData('mo')!;
  const positives = data.samples.filter((s) => s.kind === 'positive').map((s) => s.image!);
  assert.ok(positives.every((p) => p.startsWith(join(library.dir, 'uploads', 'mo-'))), positives.join(', '));
  const direct = await createConcept(await VisionLanguageModel.load(tiny.dir), { name: 'mo', photos: [...new Set(positives)].sort(), negativePool: pool, training: { epochs: 1 } });
  const served = library.load('mo');
  assert.deepEqual(served.inputRows, direct.concept.inputRows);
  assert.deepEqual(served.outputRow, direct.concept.outputRow);

  const found = await post(`${url}/api/recognize`, { concept: 'mo', images: [dataUrl(tiny.photos[0])] });
  assert.equal(found.status, 200, found.json.error);
  const huge = await sharp({ create: { width: 7000, height: 6000, channels: 3, background: 'red' } }).png().toBuffer(); // 42 Mpx in ~0.6 MB
  const tooBig = await post(`${url}/api/recognize`, { concept: 'mo', images: [huge.toString('base64')] });
  assert.deepEqual([tooBig.status, tooBig.json.error], [400, 'Cannot decode image images[0]: too many pixels (Input image exceeds pixel limit)']);
  const again = await post(`${url}/api/concepts`, { name: 'mo', photos: [dataUrl(tiny.photos[0])] });
  assert.equal(again.status, 409);
  assert.match(again.json.error, /a concept named "mo" already exists/);
  const badName = await post(`${url}/api/concepts`, { name: 'my dog', photos: [dataUrl(tiny.photos[0])] });
  assert.equal(badName.status, 400);
  assert.match(badName.json.error, /concept name "my dog": use 1–32 ASCII letters/);
  // A model whose chat template never closes an answer cannot be trained: refused before any work, with the reason.
  const unclosed = mkdtempSync(join(tmpdir(), 'yollava-unclosed-'));
  t.after(() => rmSync(unclosed, { recursive: true, force: true }));
  for (const file of readdirSync(tiny.dir)) if (!file.endsWith('.png')) copyFileSync(join(tiny.dir, file), join(unclosed, file));
  const tokenizerConfig = JSON.parse(readFileSync(join(unclosed, 'tokenizer_config.json'), 'utf8'));
  tokenizerConfig.chat_template = tokenizerConfig.chat_template.replace("eos_token if message['role'] == 'assistant' else ' '", "' '");
  writeFileSync(join(unclosed, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig));
  const templated = new YollavaServer({ vlm: await VisionLanguageModel.load(unclosed, { promptFormat: 'chat_template' }), library });
  const templatedUrl = await templated.listen(0);
  t.after(() => templated.close());
  const refused = await post(`${templatedUrl}/api/concepts`, { name: 'qo', photos: [dataUrl(tiny.photos[0])] });
  assert.equal(refused.status, 400);
  assert.match(refused.json.error, /^concepts cannot be trained on this model: .*yollava-unclosed-.*: its chat template does not close answer 1 with an end-of-turn token \(<\/s>\)/);
  assert.equal(existsSync(join(library.dir, 'uploads')) && readdirSync(join(library.dir, 'uploads')).some((f) => f.startsWith('qo-')), false, 'no photos left behind');
  const noPhotos = await post(`${url}/api/concepts`, { name: 'po', photos: [] });
  assert.match(noPhotos.json.error, /"photos" must hold at least one photo/);

  // Deleting the concept (through the API) takes its uploaded photos with it.
  const uploads = dirname(positives[0]);
  assert.ok(existsSync(uploads));
  const deleted = await fetch(`${url}/api/concepts/mo`, { method: 'DELETE' });
  assert.deepEqual([deleted.status, await deleted.json()], [200, { deleted: '<mo>' }]);
  assert.equal(library.has('mo'), false);
  assert.equal(existsSync(uploads), false);
  const gone = await post(`${url}/api/recognize`, { concept: 'mo', images: [dataUrl(tiny.photos[0])] });
  assert.equal(gone.status, 404);
  assert.equal((await fetch(`${url}/api/concepts/mo`, { method: 'DELETE' })).status, 404);
  const outside = await fetch(`${url}/api/concepts/..%2Fconcepts%2Fmo`, { method: 'DELETE' });
  assert.deepEqual([outside.status, ((await outside.json()) as any).error], [400, 'concept name "../concepts/mo": use 1–32 ASCII letters, digits, \'_\' or \'-\' (it becomes the token <../concepts/mo>)']);
  const wrongMethod = await fetch(`${url}/api/concepts`, { method: 'PUT' });
  assert.deepEqual([wrongMethod.status, ((await wrongMethod.json()) as any).error], [405, '/api/concepts answers GET and POST only']);

  // A client that stops learning once training has begun gets the best epoch so far saved (as Ctrl-C in yollava train).
  await new Promise<void>((resolve, reject) => {
    const body = JSON.stringify({ name: 'lo', photos: tiny.photos.slice(0, 2).map(dataUrl), epochs: 50 });
    const request = httpRequest(`${url}/api/concepts`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } }, (response) => {
      let buffered = '';
      response.on('data', (chunk) => {
        buffered += chunk;
        if (/"phase":"training","epoch":2\b/.test(buffered)) { request.destroy(); resolve(); }
      });
      response.on('end', () => reject(new Error(`learning ended before the client stopped it: ${buffered.slice(-300)}`)));
    });
    request.on('error', () => undefined);
    request.end(body);
  });
  // A chat request waits in the queue behind the stopped one, so when it is answered that one has ended.
  assert.equal((await post(`${url}/api/chat`, { messages: [{ role: 'user', content: 'Hi' }], maxTokens: 1 })).status, 200);
  assert.ok(library.has('lo'), 'the stopped concept was saved');
  const stopped = library.load('lo').info;
  assert.ok(stopped.epochs.length >= 2 && stopped.epochs.length < 51, `epochs measured: ${stopped.epochs.length}`);
});
