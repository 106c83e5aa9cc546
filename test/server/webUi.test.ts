/**
 * The web UI in a real browser (Debian's chromium, driven by puppeteer-core) against the real
 * server on loopback: it lists the concepts, takes a photo from the file picker, streams an
 * answer that equals the API's, shows the API's recognition probability (for its own question
 * and for one in the user's words), learns, deletes, renames, exports and imports concepts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import puppeteer from 'puppeteer-core';
import { YollavaServer } from '../../src/server/YollavaServer.ts';
import { makeTinyConceptLibrary } from '../helpers/tinyConceptLibrary.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path) => existsSync(path));

test('the web UI: concepts, a photo, a streamed answer and recognition, as the API gives them', async (t) => {
  assert.ok(CHROMIUM, 'no chromium found (apt-get install chromium, or set CHROMIUM_PATH); .ci/run installs it');
  const { tiny, library, vlm } = await makeTinyConceptLibrary(t);
  const server = new YollavaServer({ vlm, library });
  const url = await server.listen(0);
  t.after(() => server.close());

  const browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  t.after(() => browser.close());
  const page = await browser.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(String(error)));
  await page.goto(`${url}/`);
  await page.waitForFunction(`document.querySelector('#model')?.textContent !== 'loading…'`);
  assert.equal(await page.$eval('#model', (el) => el.textContent), tiny.dir);
  await page.waitForSelector('#concepts input[value="bo"]');
  assert.match(await page.$eval('#concepts', (el) => el.textContent ?? ''), /<bo>\s*k=2, recognition \d\.\d{3}/);

  await page.click('#concepts input[value="bo"]');
  const picker = await page.$('#photo-input');
  await (picker as any).uploadFile(tiny.photos[2]);
  await page.waitForSelector('#photo-preview:not([hidden])');
  assert.equal(await page.$eval('#recognize', (el: any) => el.disabled), false);

  await page.$eval('#max-tokens', (el: any) => { el.value = '6'; });
  await page.type('#prompt', 'What is <bo> doing?');
  await page.keyboard.press('Enter');
  await page.waitForSelector('.message.assistant:not(.pending)');
  const shown = await page.$eval('.message.assistant .text', (el) => el.textContent);
  const photo = `data:image/png;base64,${readFileSync(tiny.photos[2]).toString('base64')}`;
  const api = await (await fetch(`${url}/api/chat`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'What is <bo> doing?' }], image: photo, concepts: ['bo'], maxTokens: 6 }),
  })).json() as any;
  assert.ok(api.text.length > 0);
  assert.equal(shown, api.text);
  assert.match(await page.$eval('#status', (el) => el.textContent ?? ''), /tokens, with <bo>/);
  assert.equal(await page.$$eval('.message.user img', (imgs) => imgs.length), 1, 'the question shows its photo');

  await page.click('#recognize');
  await page.waitForSelector('#recognition-results li[data-probability]');
  const probability = Number(await page.$eval('#recognition-results li', (el: any) => el.dataset.probability));
  const found = await (await fetch(`${url}/api/recognize`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ concept: 'bo', images: [photo] }),
  })).json() as any;
  assert.equal(probability, found.results[0].probability);
  assert.match(await page.$eval('#recognition-results li', (el) => el.textContent ?? ''), new RegExp(`^<bo>: ${found.results[0].answer} \\(P\\(Yes\\) \\d\\.\\d{3}\\)$`));

  // In the user's words: "<name>" stands for the concept; the probability is the API's for that question.
  await page.type('#recognize-question', 'Is <name> on a sofa?');
  await page.click('#recognize');
  await page.waitForFunction(`document.querySelector('#recognition-results li')?.title.startsWith('Is <bo> on a sofa?')`);
  const inWords = await (await fetch(`${url}/api/recognize`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ concept: 'bo', images: [photo], question: 'Is <bo> on a sofa?' }),
  })).json() as any;
  assert.equal(Number(await page.$eval('#recognition-results li', (el: any) => el.dataset.probability)), inWords.results[0].probability);
  assert.notEqual(inWords.results[0].probability, found.results[0].probability, 'other words, another probability');
  await page.$eval('#recognize-question', (el: any) => { el.value = 'Is it on a sofa?'; });
  await page.click('#recognize');
  await page.waitForFunction(`/error/.test(document.querySelector('#recognition-results li')?.textContent)`);
  assert.match(await page.$eval('#recognition-results li', (el) => el.textContent ?? ''), /^<bo>: error: "question" must name the concept as <bo>/);
  await page.$eval('#recognize-question', (el: any) => { el.value = ''; });

  // Learning a concept from the page: progress, then the concept ticked in the list.
  assert.match(await page.$eval('#learn-pool', (el) => el.textContent ?? ''), /No negative pool/);
  await page.click('#learn-section summary');
  await page.type('#learn-name', 'mo');
  await page.type('#learn-description', 'a small striped tile');
  await (await page.$('#learn-photos') as any).uploadFile(tiny.photos[0], tiny.photos[1]);
  await page.click('#learn-start');
  await page.waitForFunction(`/^(learned|error)/.test(document.querySelector('#learn-progress').textContent)`, { timeout: 120_000 });
  assert.match(await page.$eval('#learn-progress', (el) => el.textContent ?? ''), /^learned <mo> \(recognition \d\.\d{3} on its photos\)\. Name it in a question as <mo>\.$/);
  assert.equal(await page.$eval('#concepts input[value="mo"]', (el: any) => el.checked), true);
  assert.ok(library.has('mo'));
  assert.equal(library.loadData('mo')!.description, 'a small striped tile', 'the typed description is the one the latent tokens start from');
  assert.equal(new Set(library.loadData('mo')!.samples.filter((sample) => sample.kind === 'positive').map((sample) => sample.image)).size, 2, 'both photos');

  // Deleting it from the page, after the confirmation.
  page.once('dialog', (dialog) => { void dialog.accept(); });
  await page.click('#concepts li:has(input[value="mo"]) button.delete');
  await page.waitForFunction(`!document.querySelector('#concepts input[value="mo"]')`);
  assert.equal(library.has('mo'), false);
  assert.match(await page.$eval('#status', (el) => el.textContent ?? ''), /^deleted <mo>$/);

  // Renaming (the new name asked in a dialog), saving as a file and importing it back.
  const exportedHref = await page.$eval('#concepts li:has(input[value="bo"]) a.export', (el: any) => el.href);
  assert.equal(exportedHref, `${url}/api/concepts/bo/file`);
  const exported = Buffer.from(await (await fetch(exportedHref)).arrayBuffer());
  assert.deepEqual(exported, readFileSync(library.conceptFile('bo')));
  page.once('dialog', (dialog) => { void dialog.accept('rex'); });
  await page.click('#concepts li:has(input[value="bo"]) button.rename');
  await page.waitForSelector('#concepts input[value="rex"]');
  assert.match(await page.$eval('#status', (el) => el.textContent ?? ''), /^renamed <bo> to <rex>$/);
  assert.deepEqual([library.has('bo'), library.has('rex')], [false, true]);
  const saved = join(library.dir, '..', 'saved-bo.concept.safetensors');
  writeFileSync(saved, exported);
  await (await page.$('#import-file') as any).uploadFile(saved);
  await page.waitForSelector('#concepts input[value="bo"]');
  assert.match(await page.$eval('#status', (el) => el.textContent ?? ''), /^imported <bo>$/);
  assert.deepEqual(readFileSync(library.conceptFile('bo')), exported);
  await (await page.$('#import-file') as any).uploadFile(saved);
  await page.waitForFunction(`/^cannot import/.test(document.querySelector('#status').textContent)`);
  assert.match(await page.$eval('#status', (el) => el.textContent ?? ''), /^cannot import saved-bo\.concept\.safetensors: a concept named "bo" already exists/);

  // An error from the server reaches the page as a message, not a silent failure.
  await page.click('#clear');
  await page.$eval('#max-tokens', (el: any) => { el.value = '5000'; });
  await page.type('#prompt', 'Hello');
  await page.keyboard.press('Enter');
  await page.waitForSelector('.message.assistant.error');
  assert.match(await page.$eval('.message.assistant.error', (el) => el.textContent ?? ''), /error: "maxTokens" must be an integer from 1 to 1024/);
  assert.deepEqual(pageErrors, []);
});
