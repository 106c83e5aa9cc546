// The web UI: one conversation at a time, about an optional photo, with the ticked concepts.
const $ = (selector) => document.querySelector(selector);
const state = { photo: null, messages: [], controller: null, concepts: [], learning: null };

function setStatus(text) { $('#status').textContent = text; }

async function getJson(path) {
  const response = await fetch(path);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error ?? `${path}: HTTP ${response.status}`);
  return body;
}

async function loadModel() {
  try {
    const model = await getJson('/api/model');
    $('#model').textContent = model.source;
  } catch (error) {
    $('#model').textContent = `model unavailable: ${error.message}`;
  }
}

async function loadConcepts() {
  const list = $('#concepts');
  try {
    const { concepts, negativePool } = await getJson('/api/concepts');
    state.concepts = concepts;
    $('#learn-pool').textContent = negativePool
      ? `Negatives come from ${negativePool}.`
      : 'No negative pool: a concept learns from its photos alone and says "Yes" too easily (yollava serve -n <folder> adds one).';
    list.replaceChildren();
    if (concepts.length === 0) {
      list.innerHTML = '<li class="muted">No concepts yet: <code>yollava train &lt;name&gt; photos…</code> makes one.</li>';
    }
    for (const concept of concepts) {
      const item = document.createElement('li');
      const label = document.createElement('label');
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.value = concept.name;
      box.disabled = !concept.fitsModel;
      box.addEventListener('change', updateButtons);
      label.append(box, ` ${concept.identifier}`);
      const remove = iconButton('delete', '×', `delete ${concept.identifier}`, () => deleteConcept(concept));
      const rename = iconButton('rename', '✎', `rename ${concept.identifier}`, () => renameConcept(concept));
      const download = document.createElement('a');
      download.className = 'export';
      download.href = `/api/concepts/${encodeURIComponent(concept.name)}/file`;
      download.download = `${concept.name}.concept.safetensors`;
      download.title = `save ${concept.identifier} as one file (import it into another library)`;
      download.textContent = '⤓';
      const meta = document.createElement('span');
      meta.className = 'meta';
      meta.textContent = concept.fitsModel
        ? `k=${concept.latentTokens}${concept.recognitionAccuracy === null ? '' : `, recognition ${concept.recognitionAccuracy.toFixed(3)}`}`
        : `trained for another model (${concept.baseModel})`;
      item.append(remove, rename, download, label, meta);
      list.append(item);
    }
  } catch (error) {
    list.innerHTML = '';
    const item = document.createElement('li');
    item.className = 'muted';
    item.textContent = `cannot list concepts: ${error.message}`;
    list.append(item);
  }
  updateButtons();
}

function iconButton(className, text, title, onClick) {
  const button = document.createElement('button');
  button.type = 'button';
  button.className = className;
  button.title = title;
  button.textContent = text;
  button.addEventListener('click', onClick);
  return button;
}

function describeProgress(progress) {
  switch (progress.stage) {
    case 'index': return progress.progress.total === 0 ? 'the negative pool is indexed already' : `indexing negatives: ${progress.progress.done}/${progress.progress.total}`;
    case 'negatives': return `negatives: ${progress.hard} hard, ${progress.easy} easy, ${progress.heldOut} held out`;
    case 'conversations': return `asking the base model about the photos: ${progress.done}/${progress.total}`;
    case 'description': return `starting from: "${progress.description}"`;
    case 'training': {
      const p = progress.progress;
      if (p.phase === 'preparing') return 'preparing training…';
      if (p.phase === 'evaluating') return `epoch ${p.epoch}/${p.epochs}: checking recognition…`;
      if (p.phase === 'calibrating') return 'setting the Yes/No boundary…';
      if (p.phase === 'done') return 'saving…';
      const left = p.remainingSeconds === null ? '' : `, ${Math.ceil(p.remainingSeconds)} s left`;
      const accuracy = p.lastAccuracy === null ? '' : `, recognition ${p.lastAccuracy.toFixed(3)}`;
      return `epoch ${p.epoch}/${p.epochs}, step ${p.step}/${p.steps}${accuracy}${left}`;
    }
    default: return progress.stage;
  }
}

async function readLines(response, onLine) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffered += value;
    let newline;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = JSON.parse(buffered.slice(0, newline));
      buffered = buffered.slice(newline + 1);
      if (line.error) throw new Error(line.error);
      onLine(line);
    }
  }
}

async function learn(event) {
  event.preventDefault();
  if (state.learning) return;
  const name = $('#learn-name').value.trim().replace(/^<(.*)>$/, '$1');
  const files = [...$('#learn-photos').files];
  const progressText = $('#learn-progress');
  state.learning = new AbortController();
  $('#learn-start').disabled = true;
  $('#learn-stop').hidden = false;
  progressText.textContent = 'reading the photos…';
  let final = null;
  try {
    const photos = await Promise.all(files.map(readFile));
    const response = await fetch('/api/concepts', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, signal: state.learning.signal,
      // Without a description the base model describes the photos, and the latent tokens start from that.
      body: JSON.stringify({ name, photos, subject: $('#learn-subject').value, description: $('#learn-description').value.trim() || undefined }),
    });
    if (!response.ok) throw new Error((await response.json()).error ?? `HTTP ${response.status}`);
    await readLines(response, (line) => {
      if (line.done) final = line;
      else progressText.textContent = describeProgress(line.progress);
    });
    if (!final) throw new Error('learning stopped before it ended');
    const accuracy = final.concept.recognitionAccuracy === null ? '' : ` (recognition ${final.concept.recognitionAccuracy.toFixed(3)} on its photos)`;
    progressText.textContent = `learned <${name}>${accuracy}${final.interrupted ? ', stopped early' : ''}. Name it in a question as <${name}>.`;
    $('#learn').reset();
    await loadConcepts();
    const box = document.querySelector(`#concepts input[value="${CSS.escape(name)}"]`);
    if (box) { box.checked = true; updateButtons(); }
  } catch (error) {
    progressText.textContent = error.name === 'AbortError' ? 'stopped (training that had begun keeps its best epoch)' : `error: ${error.message}`;
    if (error.name === 'AbortError') setTimeout(loadConcepts, 500);
  } finally {
    state.learning = null;
    $('#learn-start').disabled = false;
    $('#learn-stop').hidden = true;
  }
}

/** A request that changes the library: its outcome in the status line, then the list again. */
async function changeLibrary(path, init, describeDone, failed) {
  try {
    const response = await fetch(path, init);
    const body = await response.json();
    if (!response.ok) throw new Error(body.error ?? `HTTP ${response.status}`);
    setStatus(describeDone(body));
  } catch (error) {
    setStatus(`cannot ${failed}: ${error.message}`);
  }
  await loadConcepts();
}

async function deleteConcept(concept) {
  if (!confirm(`Delete ${concept.identifier} from the library, with its training data?`)) return;
  await changeLibrary(`/api/concepts/${encodeURIComponent(concept.name)}`, { method: 'DELETE' },
    (body) => `deleted ${body.deleted}`, `delete ${concept.identifier}`);
}

async function renameConcept(concept) {
  const answer = prompt(`New name for ${concept.identifier} (letters, digits, _ and -):`, concept.name);
  const to = answer?.trim().replace(/^<(.*)>$/, '$1');
  if (!to || to === concept.name) return;
  await changeLibrary(`/api/concepts/${encodeURIComponent(concept.name)}`, {
    method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: to }),
  }, (body) => `renamed ${body.renamed.from} to ${body.renamed.to}`, `rename ${concept.identifier}`);
}

async function importConcept(event) {
  const [file] = event.target.files;
  event.target.value = '';
  if (!file) return;
  let content;
  try {
    content = await readFile(file);
  } catch (error) {
    setStatus(`cannot import ${file.name}: ${error.message}`);
    return;
  }
  await changeLibrary('/api/concepts/import', {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ file: content }),
  }, (body) => `imported ${body.imported}`, `import ${file.name}`);
}

function selectedConcepts() {
  return [...document.querySelectorAll('#concepts input:checked')].map((box) => box.value);
}

function updateButtons() {
  $('#recognize').disabled = !state.photo || selectedConcepts().length === 0 || state.controller !== null;
  $('#send').disabled = state.controller !== null;
  $('#stop').hidden = state.controller === null;
}

function readFile(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

async function setPhoto(file) {
  if (!file) return;
  state.photo = await readFile(file);
  $('#photo-preview').src = state.photo;
  $('#photo-preview').hidden = false;
  $('#drop-text').hidden = true;
  $('#photo-clear').hidden = false;
  $('#recognition-results').replaceChildren();
  newConversation(`New conversation about ${file.name}.`);
}

function clearPhoto() {
  state.photo = null;
  $('#photo-input').value = '';
  $('#photo-preview').hidden = true;
  $('#drop-text').hidden = false;
  $('#photo-clear').hidden = true;
  $('#recognition-results').replaceChildren();
  newConversation('New conversation without a photo.');
}

function newConversation(status) {
  state.controller?.abort();
  state.messages = [];
  $('#messages').replaceChildren();
  setStatus(status);
  updateButtons();
}

function addMessage(role, text, photo) {
  const item = document.createElement('li');
  item.className = `message ${role}`;
  if (photo) {
    const img = document.createElement('img');
    img.src = photo;
    img.alt = 'the photo';
    item.append(img);
  }
  const body = document.createElement('span');
  body.className = 'text';
  body.textContent = text;
  item.append(body);
  $('#messages').append(item);
  $('#messages').scrollTop = $('#messages').scrollHeight;
  return body;
}

async function send(event) {
  event.preventDefault();
  const prompt = $('#prompt').value.trim();
  if (!prompt || state.controller) return;
  $('#prompt').value = '';
  const first = state.messages.length === 0;
  state.messages.push({ role: 'user', content: prompt });
  addMessage('user', prompt, first ? state.photo : null);
  const answer = addMessage('assistant', '');
  answer.parentElement.classList.add('pending');
  state.controller = new AbortController();
  updateButtons();
  setStatus('answering…');
  const request = {
    messages: state.messages,
    concepts: selectedConcepts(),
    maxTokens: Number($('#max-tokens').value) || 256,
    temperature: Number($('#temperature').value) || 0,
    stream: true,
  };
  if (state.photo) request.image = state.photo;
  try {
    const response = await fetch('/api/chat', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(request), signal: state.controller.signal,
    });
    if (!response.ok) throw new Error((await response.json()).error ?? `HTTP ${response.status}`);
    let final = null;
    await readLines(response, (line) => {
      if (line.done) final = line;
      else { answer.textContent += line.text; $('#messages').scrollTop = $('#messages').scrollHeight; }
    });
    if (!final) throw new Error('the answer stopped before it ended');
    answer.textContent = final.text;
    state.messages.push({ role: 'assistant', content: final.text });
    const personalized = final.personalized.length ? `, with ${final.personalized.join(', ')}` : '';
    setStatus(`${final.newTokens} tokens${personalized}`);
  } catch (error) {
    state.messages.pop();
    answer.parentElement.classList.add('error');
    answer.textContent = error.name === 'AbortError' ? `${answer.textContent} (stopped)` : `error: ${error.message}`;
    setStatus('');
  } finally {
    answer.parentElement.classList.remove('pending');
    state.controller = null;
    updateButtons();
  }
}

/**
 * The recognition question for one concept in the user's words: "<name>" stands for each ticked
 * concept; empty asks the model's own question. The server refuses a question not naming it.
 */
function recognitionQuestionFor(name) {
  const words = $('#recognize-question').value.trim();
  return words === '' ? undefined : words.replaceAll('<name>', `<${name}>`);
}

async function recognizePhoto() {
  const results = $('#recognition-results');
  results.replaceChildren();
  $('#recognize').disabled = true;
  for (const name of selectedConcepts()) {
    const item = document.createElement('li');
    item.textContent = `<${name}>: …`;
    results.append(item);
    try {
      const response = await fetch('/api/recognize', {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ concept: name, images: [state.photo], question: recognitionQuestionFor(name) }),
      });
      const body = await response.json();
      if (!response.ok) throw new Error(body.error ?? `HTTP ${response.status}`);
      const [result] = body.results;
      item.textContent = `${body.concept}: ${result.answer} (P(Yes) ${result.probability.toFixed(3)})`;
      item.title = body.question;
      item.dataset.probability = String(result.probability);
    } catch (error) {
      item.textContent = `<${name}>: error: ${error.message}`;
    }
  }
  updateButtons();
}

$('#photo-input').addEventListener('change', (event) => setPhoto(event.target.files[0]));
$('#photo-clear').addEventListener('click', clearPhoto);
const drop = $('#drop');
drop.addEventListener('dragover', (event) => { event.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (event) => { event.preventDefault(); drop.classList.remove('over'); setPhoto(event.dataTransfer.files[0]); });
$('#ask').addEventListener('submit', send);
$('#prompt').addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey) { event.preventDefault(); $('#ask').requestSubmit(); }
});
$('#stop').addEventListener('click', () => state.controller?.abort());
$('#clear').addEventListener('click', () => newConversation('New conversation.'));
$('#recognize').addEventListener('click', recognizePhoto);
$('#learn').addEventListener('submit', learn);
$('#learn-stop').addEventListener('click', () => state.learning?.abort());
$('#import-file').addEventListener('change', importConcept);
loadModel();
loadConcepts();
