// The fleet console: one page over the API's documented operations (openapi.yaml), nothing else.
// Pages are chosen by the URL's fragment (#/jobs, #/jobs/ID, #/things, ...). A page draws its
// frame at once and fills it as answers come; a refresh replaces what it shows in place, and a
// failed request leaves what was shown and says what failed.
'use strict';

// The API is the folder the console is in: /console -> /, /v1/console -> /v1/.
const API_BASE = new URL('./', location.href);
// Set once config.json is read: how to sign in, and whether this server serves /docs.
let config = { signIn: 'NONE', docs: false };
const TOKEN_KEY = 'iot-console-session';
const PAGE_SIZE = 25;
const RUNNING_JOB = new Set(['IN_PROGRESS', 'SCHEDULED', 'DELETION_IN_PROGRESS']);
const JOB_STATUSES = ['IN_PROGRESS', 'SCHEDULED', 'COMPLETED', 'CANCELED', 'DELETION_IN_PROGRESS'];
const EXECUTION_STATUSES = [
  'QUEUED', 'IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'REJECTED', 'REMOVED', 'CANCELED',
];
// The counts of jobProcessDetails, in the order the progress bar stacks them.
const PROGRESS = [
  ['numberOfSucceededThings', 'succeeded', '--succeeded'],
  ['numberOfFailedThings', 'failed', '--failed'],
  ['numberOfRejectedThings', 'rejected', '--rejected'],
  ['numberOfTimedOutThings', 'timed out', '--timed-out'],
  ['numberOfCanceledThings', 'canceled', '--canceled'],
  ['numberOfRemovedThings', 'removed', '--removed'],
  ['numberOfInProgressThings', 'in progress', '--in-progress'],
  ['numberOfQueuedThings', 'queued', '--queued'],
];
const FINISHED = PROGRESS.slice(0, 6).map(([field]) => field);

// ---------------------------------------------------------------------------------------------
// The API

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Calls one operation; resolves to its JSON answer, rejects with the API's own message. */
async function api(method, path, body) {
  const init = { method, headers: {} };
  const session = currentSession();
  if (session) init.headers.authorization = session.idToken;
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(new URL(path.replace(/^\//, ''), API_BASE), init);
  } catch (e) {
    throw new ApiError(0, 'Unreachable', `${method} ${path}: the API could not be reached (${e.message})`);
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (response.status === 401 && config.signIn === 'COGNITO_USER_POOLS') {
    // The session ended (or was never valid): sign in again, then come back here.
    signOut();
  }
  if (!response.ok) {
    const message = data && data.error ? data.error : `${method} ${path} answered ${response.status}`;
    throw new ApiError(response.status, data && data.code ? data.code : `HTTP ${response.status}`, message);
  }
  return data;
}

/** A path whose interpolated values are each one URL segment: path`/jobs/${id}`. */
function path(strings, ...values) {
  return strings.reduce((out, s, i) => out + s + (i < values.length ? encodeURIComponent(values[i]) : ''), '');
}

/** A query string of the values given, leaving out empty ones. */
function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** Every item of a paged list, up to `limit`. */
async function listAll(base, field, limit = 1000, params = {}) {
  const items = [];
  let nextToken;
  do {
    const page = await api('GET', base + query({ ...params, maxResults: 250, nextToken }));
    items.push(...page[field]);
    nextToken = page.nextToken;
  } while (nextToken && items.length < limit);
  return items;
}

// ---------------------------------------------------------------------------------------------
// The DOM

/** An element: h('a', {href: '#/jobs', class: 'x', onclick: f}, 'text', child, [children]). */
function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else if (key === 'style') el.style.cssText = value;
    else if (key === 'value') el.value = value;
    else if (key === 'checked' || key === 'selected' || key === 'multiple' || key === 'disabled') el[key] = Boolean(value);
    else el.setAttribute(key, value === true ? '' : value);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

function view() {
  return document.getElementById('view');
}

function badge(status) {
  return h('span', { class: `badge ${status}` }, status);
}

function when(ts) {
  if (!ts) return '';
  const d = new Date(ts);
  return Number.isNaN(d.getTime()) ? ts : d.toLocaleString();
}

function json(value) {
  return h('pre', {}, JSON.stringify(value, null, 2));
}

function lastSegment(arn) {
  return arn.slice(arn.lastIndexOf('/') + 1);
}

function targetLink(arn) {
  const name = lastSegment(arn);
  if (arn.includes(':thing/')) return h('a', { href: `#/things/${encodeURIComponent(name)}` }, name);
  if (arn.includes(':thinggroup/')) return h('a', { href: `#/groups/${encodeURIComponent(name)}` }, `group ${name}`);
  return arn;
}

function table(headers, rows, emptyText) {
  const body = h('tbody', {});
  fillRows(body, rows, headers.length, emptyText);
  return h('div', { class: 'table-wrap' }, h('table', {},
    h('thead', {}, h('tr', {}, headers.map((text) => h('th', { scope: 'col' }, text)))), body));
}

function fillRows(body, rows, columns, emptyText) {
  if (rows.length === 0) replace(body, h('tr', {}, h('td', { colspan: columns, class: 'empty' }, emptyText)));
  else replace(body, rows);
}

/** A toast that says what failed; what the page showed stays. */
function showError(error) {
  const box = document.getElementById('status');
  const toast = h('div', { class: 'toast' }, error.message || String(error));
  box.replaceChildren(toast);
  setTimeout(() => toast.remove(), 8000);
}

/** Runs an action whose refusal is shown in `errorBox` (the API's message, after `prefix`),
 * then `after`. */
function action(errorBox, work, after, prefix = '') {
  return async (event) => {
    if (event) event.preventDefault();
    const button = event && (event.submitter || event.currentTarget);
    if (button && 'disabled' in button) button.disabled = true;
    replace(errorBox);
    try {
      const result = await work();
      if (after) await after(result);
    } catch (e) {
      replace(errorBox, prefix + (e instanceof ApiError ? `${e.message} (${e.code})` : e.message));
    } finally {
      if (button && 'disabled' in button) button.disabled = false;
    }
  };
}

function errorBox() {
  return h('p', { class: 'form-error', role: 'alert' });
}

// A stacked bar of a job's executions by state, updated in place.
function progressBar() {
  const bar = h('div', { class: 'bar', role: 'img' });
  const spans = PROGRESS.map(([, label, color]) => {
    const span = h('span', { style: `width:0;background:var(${color})`, title: label });
    bar.append(span);
    return span;
  });
  const legend = h('div', { class: 'bar-legend' });
  const el = h('div', { class: 'progress' }, bar, legend);
  el.update = (details) => {
    const total = PROGRESS.reduce((sum, [field]) => sum + (details[field] || 0), 0);
    const done = FINISHED.reduce((sum, field) => sum + (details[field] || 0), 0);
    PROGRESS.forEach(([field, label], i) => {
      const n = details[field] || 0;
      spans[i].style.width = total ? `${(100 * n) / total}%` : '0';
      spans[i].title = `${n} ${label}`;
    });
    const parts = PROGRESS.filter(([field]) => details[field]).map(([field, label]) => `${details[field]} ${label}`);
    bar.setAttribute('aria-label', parts.length ? parts.join(', ') : 'no executions');
    legend.textContent = total ? `${done} of ${total} finished` : 'no executions yet';
  };
  return el;
}

function progressLegend(details) {
  return h('div', { class: 'legend' }, PROGRESS.map(([field, label, color]) =>
    h('span', { 'data-count': field }, h('span', { class: 'swatch', style: `background:var(${color})` }), `${label}: ${details[field] || 0}`)));
}

// A chart of executions by state over the samples this page has taken.
function executionsChart(samples) {
  const width = 600;
  const height = 160;
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${height + 20}`);
  svg.setAttribute('class', 'chart');
  svg.setAttribute('role', 'img');
  if (samples.length < 2) {
    svg.setAttribute('aria-label', 'collecting samples');
    const text = document.createElementNS(svg.namespaceURI, 'text');
    text.setAttribute('x', 8);
    text.setAttribute('y', 20);
    text.textContent = 'The chart fills in while this page is open.';
    svg.append(text);
    return svg;
  }
  const t0 = samples[0].t;
  const span = Math.max(1, samples[samples.length - 1].t - t0);
  const max = Math.max(1, ...samples.map((s) => PROGRESS.reduce((sum, [f]) => sum + (s.details[f] || 0), 0)));
  const x = (t) => ((t - t0) / span) * width;
  const y = (v) => height - (v / max) * height;
  const below = samples.map(() => 0);
  for (const [field, label, color] of PROGRESS) {
    const tops = samples.map((s, i) => below[i] + (s.details[field] || 0));
    if (tops.every((top, i) => top === below[i])) continue;
    const upper = samples.map((s, i) => `${x(s.t).toFixed(1)},${y(tops[i]).toFixed(1)}`);
    const lower = samples.map((s, i) => `${x(s.t).toFixed(1)},${y(below[i]).toFixed(1)}`).reverse();
    const area = document.createElementNS(svg.namespaceURI, 'polygon');
    area.setAttribute('points', [...upper, ...lower].join(' '));
    area.style.fill = `var(${color})`;
    const title = document.createElementNS(svg.namespaceURI, 'title');
    title.textContent = label;
    area.append(title);
    svg.append(area);
    tops.forEach((top, i) => { below[i] = top; });
  }
  const axis = document.createElementNS(svg.namespaceURI, 'text');
  axis.setAttribute('x', 0);
  axis.setAttribute('y', height + 16);
  axis.textContent = `${Math.round(span / 1000)} s of samples, up to ${max} executions`;
  svg.append(axis);
  svg.setAttribute('aria-label', `executions by state over ${Math.round(span / 1000)} seconds`);
  return svg;
}

/** A pager over nextToken: back to the first page, or on to the next. */
function pager(onMove) {
  const state = { tokens: [undefined], index: 0 };
  const first = h('button', { type: 'button', onclick: () => { state.index = 0; onMove(); } }, 'First page');
  const next = h('button', { type: 'button', onclick: () => { state.index += 1; onMove(); } }, 'Next page');
  const where = h('span', { class: 'muted' });
  const el = h('div', { class: 'pager' }, first, next, where);
  return {
    el,
    token: () => state.tokens[state.index],
    reset: () => { state.tokens = [undefined]; state.index = 0; },
    showing: (nextToken) => {
      state.tokens[state.index + 1] = nextToken;
      state.tokens.length = state.index + 2;
      first.disabled = state.index === 0;
      next.disabled = !nextToken;
      where.textContent = `page ${state.index + 1}`;
    },
  };
}

/** Fills `selectEl` with options, keeping what was selected. */
function options(selectEl, values, { blank, chosen = [] } = {}) {
  const keep = new Set([...selectEl.selectedOptions].map((o) => o.value).concat(chosen));
  const list = blank === undefined ? [] : [h('option', { value: '' }, blank)];
  for (const v of values) {
    const [value, label] = Array.isArray(v) ? v : [v, v];
    list.push(h('option', { value, selected: keep.has(value) }, label));
  }
  replace(selectEl, list);
}

function parseAttributes(text) {
  const attributes = {};
  for (const pair of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const at = pair.indexOf('=');
    if (at < 1) throw new Error(`attributes: "${pair}" is not name=value`);
    attributes[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
  }
  return attributes;
}

function parseJsonObject(text, what) {
  if (!text.trim()) return {};
  let value;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`${what}: not JSON (${e.message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${what}: give a JSON object`);
  return value;
}

// ---------------------------------------------------------------------------------------------
// Pages. Each takes the page's context (ctx.alive(), ctx.poll()) and what its route matched.

async function jobsPage(ctx) {
  const status = h('select', { 'aria-label': 'Job status' });
  options(status, JOB_STATUSES, { blank: 'Any status' });
  const body = h('tbody', {});
  const pages = pager(() => refresh());
  status.addEventListener('change', () => { pages.reset(); refresh(); });
  replace(view(),
    h('h1', {}, 'Jobs', h('button', { type: 'button', class: 'primary', onclick: () => { location.hash = '#/jobs/new'; } }, 'Create job')),
    h('div', { class: 'toolbar' }, h('label', {}, 'Status', status)),
    h('div', { class: 'table-wrap' }, h('table', { id: 'jobs' },
      h('thead', {}, h('tr', {}, ['Job', 'Status', 'Selection', 'Progress', 'Created'].map((t, i) =>
        h('th', { scope: 'col', class: i === 2 || i === 4 ? 'hide-narrow' : undefined, style: i === 3 ? 'width:35%' : undefined }, t)))),
      body)),
    pages.el);
  fillRows(body, [], 5, 'Loading…');
  async function refresh() {
    const page = await api('GET', `/jobs${query({ maxResults: PAGE_SIZE, nextToken: pages.token(), status: status.value })}`);
    const described = await Promise.allSettled(page.jobs.map((j) => api('GET', path`/jobs/${j.jobId}`)));
    if (!ctx.alive()) return false;
    const rows = page.jobs.map((job, i) => {
      const bar = progressBar();
      const found = described[i].status === 'fulfilled' ? described[i].value.job : null;
      if (found) bar.update(found.jobProcessDetails);
      return h('tr', { 'data-job': job.jobId },
        h('td', {}, h('a', { href: `#/jobs/${encodeURIComponent(job.jobId)}` }, job.jobId)),
        h('td', {}, badge(job.status)),
        h('td', { class: 'hide-narrow' }, job.targetSelection),
        h('td', {}, found ? bar : h('span', { class: 'muted' }, 'unavailable')),
        h('td', { class: 'hide-narrow' }, when(job.createdAt)));
    });
    fillRows(body, rows, 5, 'No jobs yet.');
    pages.showing(page.nextToken);
    return page.jobs.some((j) => RUNNING_JOB.has(j.status));
  }
  ctx.poll(refresh);
}

async function jobPage(ctx, jobId) {
  const heading = h('h1', {}, jobId);
  const bar = progressBar();
  const legend = h('div', {});
  const chart = h('div', {});
  const details = h('dl', { class: 'props' });
  const configs = h('div', {});
  const documentBox = h('div', {});
  const samples = [];

  // Actions: cancel, update, delete, each with its own refusal shown beside it.
  const cancelForce = h('input', { type: 'checkbox', id: 'cancel-force' });
  const cancelComment = h('input', { type: 'text', id: 'cancel-comment', placeholder: 'comment (optional)' });
  const cancelError = errorBox();
  const cancelForm = h('form', { class: 'card', id: 'cancel-job' },
    h('div', { class: 'toolbar' },
      h('label', { class: 'grow' }, 'Comment', cancelComment),
      h('label', { class: 'inline' }, cancelForce, 'Force (also cancel executions in progress)'),
      h('button', { type: 'submit', class: 'danger' }, 'Cancel job')),
    cancelError);
  cancelForm.addEventListener('submit', action(cancelError, () => {
    const body = { force: cancelForce.checked };
    if (cancelComment.value.trim()) body.comment = cancelComment.value.trim();
    return api('PUT', path`/jobs/${jobId}/cancel`, body);
  }, () => refresh()));

  const updateText = h('textarea', { id: 'update-job', rows: 6, 'aria-label': 'Job update (JSON)' });
  const updateError = errorBox();
  const updateForm = h('form', { class: 'card' },
    h('label', {}, 'Update: description and configurations, as JSON', updateText),
    h('div', { class: 'toolbar' }, h('button', { type: 'submit' }, 'Update job')),
    updateError);
  updateForm.addEventListener('submit', action(updateError,
    () => api('PUT', path`/jobs/${jobId}`, parseJsonObject(updateText.value, 'update')), () => refresh()));

  const deleteForce = h('input', { type: 'checkbox', id: 'delete-force' });
  const deleteError = errorBox();
  const deleteForm = h('form', { class: 'card' },
    h('div', { class: 'toolbar' },
      h('label', { class: 'inline' }, deleteForce, 'Force (delete a job that is still running)'),
      h('button', { type: 'submit', class: 'danger' }, 'Delete job')),
    deleteError);
  deleteForm.addEventListener('submit', action(deleteError,
    () => api('DELETE', path`/jobs/${jobId}` + query({ force: deleteForce.checked || undefined })),
    () => { location.hash = '#/jobs'; }));

  // Executions, filtered by status and paged.
  const execStatus = h('select', { 'aria-label': 'Execution status' });
  options(execStatus, EXECUTION_STATUSES, { blank: 'Any status' });
  const execForce = h('input', { type: 'checkbox' });
  const execError = errorBox();
  const execBody = h('tbody', {});
  const execPages = pager(() => loadExecutions());
  execStatus.addEventListener('change', () => { execPages.reset(); loadExecutions(); });

  replace(view(),
    h('p', {}, h('a', { href: '#/jobs' }, '← Jobs')),
    heading,
    h('section', { class: 'card', 'aria-label': 'Progress' }, bar, legend, chart),
    h('h2', {}, 'Executions'),
    h('div', { class: 'toolbar' }, h('label', {}, 'Status', execStatus),
      h('label', { class: 'inline' }, execForce, 'Force for the actions below')),
    h('div', { class: 'table-wrap' }, h('table', { id: 'executions' },
      h('thead', {}, h('tr', {}, ['Thing', 'Status', '#', 'Queued', 'Started', 'Updated', ''].map((t, i) =>
        h('th', { scope: 'col', class: i >= 3 && i <= 4 ? 'hide-narrow' : undefined }, t)))),
      execBody)),
    execPages.el, execError,
    h('h2', {}, 'Details'), h('section', { class: 'card' }, details),
    h('h2', {}, 'Configuration'), configs,
    h('h2', {}, 'Document'), documentBox,
    h('h2', {}, 'Actions'), cancelForm, updateForm, deleteForm);
  fillRows(execBody, [], 7, 'Loading…');

  async function loadExecutions() {
    const page = await api('GET', path`/jobs/${jobId}/status` + query({ maxResults: PAGE_SIZE, status: execStatus.value, nextToken: execPages.token() }));
    if (!ctx.alive()) return;
    const rows = page.executionSummaries.map(({ thingArn, jobExecution: e }) => {
      const thing = lastSegment(thingArn);
      const run = (work) => action(execError, work, () => refresh(), `${thing}: `);
      return h('tr', { 'data-thing': thing },
        h('td', {}, targetLink(thingArn)),
        h('td', {}, badge(e.status)),
        h('td', { class: 'num' }, e.executionNumber),
        h('td', { class: 'hide-narrow' }, when(e.queuedAt)),
        h('td', { class: 'hide-narrow' }, when(e.startedAt)),
        h('td', {}, when(e.lastUpdatedAt)),
        h('td', {},
          h('button', { type: 'button', onclick: run(() => api('PUT', path`/jobs/${jobId}/things/${thing}/cancel`, { force: execForce.checked })) }, 'Cancel'), ' ',
          h('button', { type: 'button', class: 'danger', onclick: run(() => api('DELETE', path`/jobs/${jobId}/things/${thing}` + query({ executionNumber: e.executionNumber, force: execForce.checked || undefined }))) }, 'Delete')));
    });
    fillRows(execBody, rows, 7, 'No executions in this view.');
    execPages.showing(page.nextToken);
  }

  let documentShown = false;
  async function refresh() {
    const { job } = await api('GET', path`/jobs/${jobId}`);
    if (!ctx.alive()) return false;
    replace(heading, job.jobId, ' ', badge(job.status));
    bar.update(job.jobProcessDetails);
    replace(legend, progressLegend(job.jobProcessDetails));
    samples.push({ t: Date.now(), details: job.jobProcessDetails });
    if (samples.length > 600) samples.shift();
    replace(chart, executionsChart(samples));
    replace(details,
      h('dt', {}, 'Description'), h('dd', {}, job.description || '—'),
      h('dt', {}, 'Target selection'), h('dd', {}, job.targetSelection),
      h('dt', {}, 'Targets'), h('dd', {}, job.targets.flatMap((arn, i) => (i ? [', ', targetLink(arn)] : [targetLink(arn)]))),
      h('dt', {}, 'Created'), h('dd', {}, when(job.createdAt)),
      h('dt', {}, 'Last updated'), h('dd', {}, when(job.lastUpdatedAt)),
      job.completedAt && [h('dt', {}, 'Completed'), h('dd', {}, when(job.completedAt))],
      job.comment && [h('dt', {}, 'Comment'), h('dd', {}, job.comment)],
      job.reasonCode && [h('dt', {}, 'Reason'), h('dd', {}, job.reasonCode)],
      job.jobTemplateArn && [h('dt', {}, 'Template'), h('dd', {}, job.jobTemplateArn)],
      h('dt', {}, 'Force canceled'), h('dd', {}, job.forceCanceled ? 'yes' : 'no'),
      h('dt', {}, 'ARN'), h('dd', {}, h('code', {}, job.jobArn)));
    const configured = [
      ['Rollout', job.jobExecutionsRolloutConfig], ['Timeouts', job.timeoutConfig],
      ['Retry', job.jobExecutionsRetryConfig], ['Abort', job.abortConfig],
      ['Scheduling', job.schedulingConfig], ['Presigned URLs', job.presignedUrlConfig],
    ];
    replace(configs, h('section', { class: 'card grid' }, configured.map(([name, value]) =>
      h('div', {}, h('strong', {}, name), value ? json(value) : h('p', { class: 'muted' }, 'none')))));
    if (!documentShown) {
      documentShown = true;
      const editable = {};
      for (const key of ['description', 'timeoutConfig', 'jobExecutionsRolloutConfig', 'abortConfig', 'jobExecutionsRetryConfig', 'presignedUrlConfig']) {
        if (job[key] !== undefined) editable[key] = job[key];
      }
      updateText.value = JSON.stringify(Object.keys(editable).length ? editable : { description: '' }, null, 2);
      api('GET', path`/jobs/${jobId}/document`).then(
        ({ document: text }) => {
          let shown = text;
          try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch { /* shown as stored */ }
          replace(documentBox, h('pre', { id: 'job-document' }, shown));
        },
        (e) => replace(documentBox, h('p', { class: 'form-error' }, e.message)));
    }
    await loadExecutions();
    return RUNNING_JOB.has(job.status);
  }
  ctx.poll(refresh);
}

async function newJobPage(ctx, _match, params) {
  const chosenFiles = (params.get('files') || '').split(',').filter(Boolean);
  const jobId = h('input', { type: 'text', id: 'job-id', placeholder: 'generated when empty' });
  const description = h('input', { type: 'text', id: 'job-description' });
  const selection = h('select', { id: 'job-selection' });
  options(selection, ['SNAPSHOT', 'CONTINUOUS']);
  const things = h('select', { id: 'job-things', multiple: true, 'aria-label': 'Things' });
  const groups = h('select', { id: 'job-groups', multiple: true, 'aria-label': 'Groups' });
  const otherTargets = h('input', { type: 'text', id: 'job-other-targets', placeholder: 'thing names or ARNs, comma-separated' });
  const template = h('select', { id: 'job-template' });
  options(template, [], { blank: 'No template' });
  const documentText = h('textarea', { id: 'job-document-input', rows: 5 }, '{"operation": "update"}');
  const files = h('select', { id: 'job-files', multiple: true, 'aria-label': 'Files' });
  const maxPerMinute = h('input', { type: 'number', id: 'job-rollout', min: 1 });
  const timeout = h('input', { type: 'number', id: 'job-timeout', min: 1 });
  const advanced = h('textarea', { id: 'job-advanced', rows: 4, placeholder: '{"abortConfig": {...}, "schedulingConfig": {...}}' });
  const error = errorBox();
  const form = h('form', { class: 'card', id: 'new-job' },
    h('div', { class: 'grid' },
      h('label', {}, 'Job ID', jobId),
      h('label', {}, 'Description', description),
      h('label', {}, 'Target selection', selection)),
    h('h2', {}, 'Targets'),
    h('div', { class: 'grid' },
      h('label', {}, 'Things', things),
      h('label', {}, 'Groups', groups),
      h('label', {}, 'Other targets', otherTargets)),
    h('h2', {}, 'What to run'),
    h('div', { class: 'grid' },
      h('label', {}, 'Template', template),
      h('label', {}, 'Document (JSON; optional with a template)', documentText),
      h('label', {}, 'Firmware files to deliver', files)),
    h('h2', {}, 'Configuration'),
    h('div', { class: 'grid' },
      h('label', {}, 'Rollout: executions per minute', maxPerMinute),
      h('label', {}, 'In-progress timeout (minutes)', timeout),
      h('label', {}, 'More configuration (JSON object merged into the request)', advanced)),
    h('div', { class: 'toolbar' }, h('button', { type: 'submit', class: 'primary' }, 'Create job')),
    error);
  form.addEventListener('submit', action(error, () => {
    const body = parseJsonObject(advanced.value, 'more configuration');
    const targets = [
      ...[...things.selectedOptions].map((o) => o.value),
      ...[...groups.selectedOptions].map((o) => o.value),
      ...otherTargets.value.split(',').map((s) => s.trim()).filter(Boolean),
    ];
    body.targets = targets;
    body.targetSelection = selection.value;
    if (jobId.value.trim()) body.jobId = jobId.value.trim();
    if (description.value.trim()) body.description = description.value.trim();
    if (template.value) body.jobTemplateId = template.value;
    if (documentText.value.trim()) body.document = documentText.value;
    const fileIds = [...files.selectedOptions].map((o) => o.value);
    if (fileIds.length) body.files = fileIds;
    if (maxPerMinute.value) body.jobExecutionsRolloutConfig = { maximumPerMinute: Number(maxPerMinute.value) };
    if (timeout.value) body.timeoutConfig = { inProgressTimeoutInMinutes: Number(timeout.value) };
    return api('POST', '/jobs', body);
  }, (created) => { location.hash = `#/jobs/${encodeURIComponent(created.jobId)}`; }));
  template.addEventListener('change', () => {
    if (template.value) documentText.value = '';
  });
  replace(view(), h('p', {}, h('a', { href: '#/jobs' }, '← Jobs')), h('h1', {}, 'Create a job'), form);
  const [thingList, groupList, templates, fileList] = await Promise.all([
    listAll('/things', 'things', 1000),
    listAll('/thing-groups', 'thingGroups', 1000),
    listAll('/job-templates', 'jobTemplates', 1000),
    Promise.all(['PUBLISHED', 'DEPRECATED'].map((state) => listAll('/files', 'files', 1000, { state }))).then((x) => x.flat()),
  ]);
  if (!ctx.alive()) return;
  options(things, thingList.map((t) => [t.thingName, t.thingName]));
  options(groups, groupList.map((g) => [g.groupArn, g.groupName]));
  options(template, templates.map((t) => [t.jobTemplateId, t.jobTemplateId]), { blank: 'No template' });
  options(files, fileList.map((f) => [f.fileId, `${f.version} ${f.locale} (${f.state})`]), { chosen: chosenFiles });
}

async function thingsPage(ctx) {
  const search = h('input', { type: 'search', id: 'thing-query', placeholder: 'attributes.model:L100 AND shadow.reported.on:true' });
  const body = h('tbody', {});
  const pages = pager(() => load());
  const searchError = errorBox();
  const searchForm = h('form', { class: 'toolbar', role: 'search' },
    h('label', { class: 'grow' }, 'Search (fleet index query; empty lists every thing)', search),
    h('button', { type: 'submit' }, 'Search'));
  searchForm.addEventListener('submit', action(searchError, async () => { pages.reset(); await load(); }));

  const name = h('input', { type: 'text', id: 'thing-name' });
  const type = h('select', { id: 'thing-type' });
  options(type, [], { blank: 'No type' });
  const attributes = h('input', { type: 'text', id: 'thing-attributes', placeholder: 'model=L100, batch=7' });
  const createError = errorBox();
  const create = h('form', { class: 'card', id: 'new-thing' },
    h('div', { class: 'grid' }, h('label', {}, 'Thing name', name), h('label', {}, 'Type', type), h('label', {}, 'Attributes', attributes)),
    h('div', { class: 'toolbar' }, h('button', { type: 'submit', class: 'primary' }, 'Create thing')),
    createError);
  create.addEventListener('submit', action(createError, () => {
    const body = { thingName: name.value.trim() };
    if (type.value) body.thingTypeName = type.value;
    const attrs = parseAttributes(attributes.value);
    if (Object.keys(attrs).length) body.attributes = attrs;
    return api('POST', '/things', body);
  }, async () => { name.value = ''; attributes.value = ''; await load(); }));

  replace(view(), h('h1', {}, 'Devices'), searchForm, searchError,
    h('div', { class: 'table-wrap' }, h('table', { id: 'things' },
      h('thead', {}, h('tr', {}, ['Thing', 'Type', 'Attributes', 'Groups'].map((t) => h('th', { scope: 'col' }, t)))), body)),
    pages.el, h('h2', {}, 'Register a thing'), create);
  fillRows(body, [], 4, 'Loading…');

  async function load() {
    const q = search.value.trim();
    const page = q
      ? await api('GET', `/things/search${query({ queryString: q, maxResults: PAGE_SIZE, nextToken: pages.token() })}`)
      : await api('GET', `/things${query({ maxResults: PAGE_SIZE, nextToken: pages.token() })}`);
    if (!ctx.alive()) return;
    const rows = page.things.map((t) => h('tr', { 'data-thing': t.thingName },
      h('td', {}, h('a', { href: `#/things/${encodeURIComponent(t.thingName)}` }, t.thingName)),
      h('td', {}, t.thingTypeName || ''),
      h('td', {}, Object.entries(t.attributes || {}).map(([k, v]) => `${k}=${v}`).join(', ')),
      h('td', {}, t.thingGroupNames ? t.thingGroupNames.join(', ') : h('span', { class: 'muted' }, 'search to see'))));
    fillRows(body, rows, 4, q ? 'No thing matches.' : 'No things yet.');
    pages.showing(page.nextToken);
  }
  await load();
  const types = await listAll('/thing-types', 'thingTypes', 1000);
  if (ctx.alive()) options(type, types.filter((t) => !t.thingTypeMetadata.deprecated).map((t) => t.thingTypeName), { blank: 'No type' });
}

async function thingPage(ctx, thingName) {
  const props = h('dl', { class: 'props' });
  const groupsBody = h('ul', {});
  const addGroup = h('select', { 'aria-label': 'Group to add to' });
  const groupError = errorBox();
  const groupForm = h('form', { class: 'toolbar' }, addGroup, h('button', { type: 'submit' }, 'Add to group'));
  groupForm.addEventListener('submit', action(groupError,
    () => api('PUT', path`/thing-groups/${addGroup.value}/things/${thingName}`), () => refresh()));
  const shadows = h('div', {});
  const jobsBody = h('tbody', {});
  const deleteError = errorBox();
  const remove = h('button', { type: 'button', class: 'danger', onclick: action(deleteError,
    () => api('DELETE', path`/things/${thingName}`), () => { location.hash = '#/things'; }) }, 'Delete thing');

  replace(view(), h('p', {}, h('a', { href: '#/things' }, '← Devices')), h('h1', {}, thingName),
    h('section', { class: 'card' }, props),
    h('h2', {}, 'Groups'), h('section', { class: 'card' }, groupsBody, groupForm, groupError),
    h('h2', {}, 'Shadows'), shadows,
    h('h2', {}, 'Job executions'),
    h('div', { class: 'table-wrap' }, h('table', { id: 'thing-jobs' },
      h('thead', {}, h('tr', {}, ['Job', 'Status', '#', 'Updated'].map((t) => h('th', { scope: 'col' }, t)))), jobsBody)),
    h('h2', {}, 'Delete'), h('section', { class: 'card' }, remove, deleteError));

  function shadowCard(title, document) {
    const state = document.thingShadow.state;
    return h('section', { class: 'card' }, h('strong', {}, title), ` version ${document.thingShadow.version}`,
      h('div', { class: 'grid' }, ['desired', 'reported', 'delta'].map((part) =>
        h('div', {}, h('span', { class: 'muted' }, part), state[part] ? json(state[part]) : h('p', { class: 'muted' }, 'none')))));
  }

  async function refresh() {
    const [{ thing }, memberOf, executions, named, allGroups] = await Promise.all([
      api('GET', path`/things/${thingName}`),
      listAll(path`/things/${thingName}/thing-groups`, 'thingGroups'),
      api('GET', path`/things/${thingName}/jobs` + query({ maxResults: PAGE_SIZE })),
      listAll(path`/things/${thingName}/shadows`, 'thingShadows'),
      listAll('/thing-groups', 'thingGroups', 1000),
    ]);
    const classic = await api('GET', path`/things/${thingName}/shadow`).catch((e) => (e.status === 404 ? null : Promise.reject(e)));
    const namedDocs = await Promise.all(named.map((n) => api('GET', path`/things/${thingName}/shadows/${n}`).then((d) => [n, d])));
    if (!ctx.alive()) return false;
    replace(props,
      h('dt', {}, 'Type'), h('dd', {}, thing.thingTypeName || '—'),
      h('dt', {}, 'Attributes'), h('dd', {}, Object.keys(thing.attributes).length ? Object.entries(thing.attributes).map(([k, v]) => `${k}=${v}`).join(', ') : '—'),
      h('dt', {}, 'Version'), h('dd', {}, thing.version),
      h('dt', {}, 'ARN'), h('dd', {}, h('code', {}, thing.thingArn)));
    replace(groupsBody, memberOf.length ? memberOf.map((g) => h('li', {},
      h('a', { href: `#/groups/${encodeURIComponent(g.groupName)}` }, g.groupName), ' ',
      h('button', { type: 'button', onclick: action(groupError, () => api('DELETE', path`/thing-groups/${g.groupName}/things/${thingName}`), () => refresh()) }, 'Remove')))
      : h('li', { class: 'muted' }, 'In no group.'));
    const member = new Set(memberOf.map((g) => g.groupName));
    const others = allGroups.filter((g) => !member.has(g.groupName)).map((g) => g.groupName);
    options(addGroup, others);
    groupForm.hidden = others.length === 0;
    const cards = [];
    cards.push(classic ? shadowCard('Classic shadow', classic) : h('section', { class: 'card muted' }, 'No classic shadow.'));
    for (const [n, d] of namedDocs) cards.push(shadowCard(`Shadow "${n}"`, d));
    replace(shadows, cards);
    fillRows(jobsBody, executions.executionSummaries.map(({ jobId, jobExecution: e }) => h('tr', {},
      h('td', {}, h('a', { href: `#/jobs/${encodeURIComponent(jobId)}` }, jobId)),
      h('td', {}, badge(e.status)), h('td', { class: 'num' }, e.executionNumber), h('td', {}, when(e.lastUpdatedAt)))),
    4, 'No job executions.');
    return executions.executionSummaries.some((s) => s.jobExecution.status === 'QUEUED' || s.jobExecution.status === 'IN_PROGRESS');
  }
  ctx.poll(refresh);
}

async function groupsPage(ctx) {
  const tree = h('ul', { class: 'tree', id: 'group-tree' }, h('li', { class: 'muted' }, 'Loading…'));
  const name = h('input', { type: 'text', id: 'group-name' });
  const parent = h('select', { id: 'group-parent' });
  options(parent, [], { blank: 'No parent' });
  const description = h('input', { type: 'text', id: 'group-description' });
  const dynamicQuery = h('input', { type: 'text', id: 'group-query', placeholder: 'for a dynamic group: attributes.model:L100' });
  const error = errorBox();
  const form = h('form', { class: 'card', id: 'new-group' },
    h('div', { class: 'grid' },
      h('label', {}, 'Group name', name), h('label', {}, 'Parent (static groups)', parent),
      h('label', {}, 'Description', description), h('label', {}, 'Query (makes it dynamic)', dynamicQuery)),
    h('div', { class: 'toolbar' }, h('button', { type: 'submit', class: 'primary' }, 'Create group')), error);
  form.addEventListener('submit', action(error, () => {
    const body = { thingGroupName: name.value.trim() };
    if (description.value.trim()) body.thingGroupDescription = description.value.trim();
    if (dynamicQuery.value.trim()) {
      body.queryString = dynamicQuery.value.trim();
      return api('POST', '/dynamic-thing-groups', body);
    }
    if (parent.value) body.parentGroupName = parent.value;
    return api('POST', '/thing-groups', body);
  }, async () => { name.value = ''; dynamicQuery.value = ''; description.value = ''; await load(); }));
  replace(view(), h('h1', {}, 'Groups'), h('section', { class: 'card' }, tree), h('h2', {}, 'Create a group'), form);

  async function load() {
    const names = await listAll('/thing-groups', 'thingGroups', 1000);
    const groups = await Promise.all(names.map((g) => api('GET', path`/thing-groups/${g.groupName}`).then((d) => d.thingGroup)));
    if (!ctx.alive()) return;
    const children = new Map();
    for (const g of groups) {
      const up = g.thingGroupMetadata.parentGroupName || '';
      if (!children.has(up)) children.set(up, []);
      children.get(up).push(g);
    }
    const branch = (up) => (children.get(up) || []).map((g) => h('li', {},
      h('a', { href: `#/groups/${encodeURIComponent(g.thingGroupName)}` }, g.thingGroupName),
      g.queryString ? h('span', { class: 'muted' }, ` dynamic: ${g.queryString}`) : '',
      children.has(g.thingGroupName) ? h('ul', {}, branch(g.thingGroupName)) : ''));
    replace(tree, groups.length ? branch('') : h('li', { class: 'muted' }, 'No groups yet.'));
    options(parent, groups.filter((g) => !g.queryString).map((g) => g.thingGroupName), { blank: 'No parent' });
  }
  await load();
}

async function groupPage(ctx, groupName) {
  const props = h('dl', { class: 'props' });
  const queryBox = h('div', {});
  const members = h('tbody', {});
  const memberName = h('input', { type: 'text', 'aria-label': 'Thing to add', placeholder: 'thing name' });
  const memberError = errorBox();
  const addForm = h('form', { class: 'toolbar' }, memberName, h('button', { type: 'submit' }, 'Add thing'));
  addForm.addEventListener('submit', action(memberError,
    () => api('PUT', path`/thing-groups/${groupName}/things/${memberName.value.trim()}`),
    async () => { memberName.value = ''; await refresh(); }));
  const deleteError = errorBox();
  let dynamic = false;
  const remove = h('button', { type: 'button', class: 'danger', onclick: action(deleteError,
    () => api('DELETE', dynamic ? path`/dynamic-thing-groups/${groupName}` : path`/thing-groups/${groupName}`),
    () => { location.hash = '#/groups'; }) }, 'Delete group');
  const membersCard = h('section', { class: 'card' },
    h('div', { class: 'table-wrap' }, h('table', {}, h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Thing'), h('th', { scope: 'col' }, ''))), members)),
    addForm, memberError);
  replace(view(), h('p', {}, h('a', { href: '#/groups' }, '← Groups')), h('h1', {}, groupName),
    h('section', { class: 'card' }, props), queryBox,
    h('h2', {}, 'Members'), membersCard,
    h('h2', {}, 'Delete'), h('section', { class: 'card' }, remove, deleteError));

  let queryShown = false;
  async function refresh() {
    const [{ thingGroup: g }, things] = await Promise.all([
      api('GET', path`/thing-groups/${groupName}`),
      listAll(path`/thing-groups/${groupName}/things`, 'things', 1000),
    ]);
    if (!ctx.alive()) return false;
    dynamic = Boolean(g.queryString);
    replace(props,
      h('dt', {}, 'Kind'), h('dd', {}, dynamic ? 'dynamic' : 'static'),
      h('dt', {}, 'Description'), h('dd', {}, g.thingGroupProperties.thingGroupDescription || '—'),
      h('dt', {}, 'Parents'), h('dd', {}, g.thingGroupMetadata.rootToParentThingGroups.length
        ? g.thingGroupMetadata.rootToParentThingGroups.map((p) => p.groupName).join(' / ') : '—'),
      h('dt', {}, 'Version'), h('dd', {}, g.version),
      h('dt', {}, 'ARN'), h('dd', {}, h('code', {}, g.thingGroupArn)));
    if (dynamic && !queryShown) {
      queryShown = true;
      const q = h('input', { type: 'text', value: g.queryString, 'aria-label': 'Query', class: 'grow' });
      const qError = errorBox();
      const qForm = h('form', { class: 'card' }, h('div', { class: 'toolbar' }, h('label', { class: 'grow' }, 'Query', q),
        h('button', { type: 'submit' }, 'Change query')), qError);
      qForm.addEventListener('submit', action(qError,
        () => api('PUT', path`/dynamic-thing-groups/${groupName}`, { queryString: q.value.trim() }), () => refresh()));
      replace(queryBox, qForm);
    }
    addForm.hidden = dynamic;
    fillRows(members, things.map((t) => h('tr', {},
      h('td', {}, h('a', { href: `#/things/${encodeURIComponent(t)}` }, t)),
      h('td', {}, dynamic ? '' : h('button', { type: 'button', onclick: action(memberError,
        () => api('DELETE', path`/thing-groups/${groupName}/things/${t}`), () => refresh()) }, 'Remove')))),
    2, 'No members.');
    return false;
  }
  ctx.poll(refresh);
}

async function thingTypesPage(ctx) {
  const body = h('tbody', {});
  const error = errorBox();
  const name = h('input', { type: 'text', id: 'type-name' });
  const description = h('input', { type: 'text' });
  const searchable = h('input', { type: 'text', placeholder: 'model, batch (at most 3)' });
  const createError = errorBox();
  const form = h('form', { class: 'card' },
    h('div', { class: 'grid' }, h('label', {}, 'Type name', name), h('label', {}, 'Description', description),
      h('label', {}, 'Searchable attributes', searchable)),
    h('div', { class: 'toolbar' }, h('button', { type: 'submit', class: 'primary' }, 'Create thing type')), createError);
  form.addEventListener('submit', action(createError, () => {
    const b = { thingTypeName: name.value.trim() };
    if (description.value.trim()) b.thingTypeDescription = description.value.trim();
    const attrs = searchable.value.split(',').map((s) => s.trim()).filter(Boolean);
    if (attrs.length) b.searchableAttributes = attrs;
    return api('POST', '/thing-types', b);
  }, async () => { name.value = ''; await load(); }));
  replace(view(), h('h1', {}, 'Thing types'),
    h('div', { class: 'table-wrap' }, h('table', { id: 'thing-types' }, h('thead', {}, h('tr', {},
      ['Type', 'Description', 'Searchable', 'State', ''].map((t) => h('th', { scope: 'col' }, t)))), body)),
    error, h('h2', {}, 'Create a thing type'), form);
  async function load() {
    const types = await listAll('/thing-types', 'thingTypes', 1000);
    if (!ctx.alive()) return;
    const act = (work) => action(error, work, () => load());
    fillRows(body, types.map((t) => {
      const m = t.thingTypeMetadata;
      const n = t.thingTypeName;
      return h('tr', { 'data-type': n },
        h('td', {}, n),
        h('td', {}, t.thingTypeProperties.thingTypeDescription || ''),
        h('td', {}, t.thingTypeProperties.searchableAttributes.join(', ')),
        h('td', {}, m.deprecated ? h('span', {}, badge('DEPRECATED'), ` since ${when(m.deprecationDate)}`) : 'active'),
        h('td', {},
          m.deprecated
            ? h('button', { type: 'button', onclick: act(() => api('PUT', path`/thing-types/${n}/undeprecate`)) }, 'Undeprecate')
            : h('button', { type: 'button', onclick: act(() => api('PUT', path`/thing-types/${n}/deprecate`)) }, 'Deprecate'), ' ',
          h('button', { type: 'button', class: 'danger', onclick: act(() => api('DELETE', path`/thing-types/${n}`)) }, 'Delete')));
    }), 5, 'No thing types yet.');
  }
  await load();
}

async function sha256Hex(buffer) {
  if (!crypto.subtle) throw new Error('hashing needs a secure page (https, or http on localhost)');
  const digest = await crypto.subtle.digest('SHA-256', buffer);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** Sends the bytes where the upload says, reporting progress; the signature covers its headers. */
function sendBytes(upload, bytes, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(upload.method, upload.url);
    for (const [k, v] of Object.entries(upload.headers)) {
      if (!['content-length', 'host'].includes(k.toLowerCase())) xhr.setRequestHeader(k, v);
    }
    xhr.upload.addEventListener('progress', (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); });
    xhr.addEventListener('load', () => (xhr.status < 300 ? resolve() : reject(new Error(`the upload answered ${xhr.status}: ${xhr.responseText.slice(0, 300)}`))));
    xhr.addEventListener('error', () => reject(new Error('the upload failed: the object store could not be reached')));
    xhr.send(bytes);
  });
}

async function filesPage(ctx) {
  const categoriesBody = h('tbody', {});
  const filesBody = h('tbody', {});
  const filesError = errorBox();
  const stateFilter = h('select', { 'aria-label': 'File state' });
  options(stateFilter, ['PENDING_UPLOAD', 'VERIFYING', 'DRAFT', 'PUBLISHED', 'DEPRECATED'], { blank: 'Any state' });
  const pages = pager(() => loadFiles());
  stateFilter.addEventListener('change', () => { pages.reset(); loadFiles(); });

  const catName = h('input', { type: 'text', id: 'category-name' });
  const catParent = h('select', { id: 'category-parent' });
  const catError = errorBox();
  const catForm = h('form', { class: 'toolbar' }, h('label', {}, 'New category', catName), h('label', {}, 'Parent', catParent),
    h('button', { type: 'submit' }, 'Create category'));
  catForm.addEventListener('submit', action(catError, () => {
    const b = { name: catName.value.trim() };
    if (catParent.value) b.parentId = catParent.value;
    return api('POST', '/categories', b);
  }, async () => { catName.value = ''; await loadCategories(); }));

  const category = h('select', { id: 'file-category' });
  const version = h('input', { type: 'text', id: 'file-version', placeholder: '2.1.0' });
  const locale = h('input', { type: 'text', id: 'file-locale', value: 'en-US' });
  const summary = h('input', { type: 'text', id: 'file-summary' });
  const chooser = h('input', { type: 'file', id: 'file-bytes' });
  const progress = h('progress', { max: 1, value: 0, id: 'upload-progress' });
  const progressText = h('span', { class: 'muted' });
  const uploadError = errorBox();
  const uploadForm = h('form', { class: 'card', id: 'upload' },
    h('div', { class: 'grid' }, h('label', {}, 'Category', category), h('label', {}, 'Version', version),
      h('label', {}, 'Locale', locale), h('label', {}, 'Summary', summary), h('label', {}, 'File', chooser)),
    h('div', { class: 'toolbar' }, h('button', { type: 'submit', class: 'primary' }, 'Upload')),
    progress, progressText, uploadError);
  uploadForm.addEventListener('submit', action(uploadError, async () => {
    const file = chooser.files[0];
    if (!file) throw new Error('File: choose the file to upload');
    progressText.textContent = 'hashing…';
    const bytes = await file.arrayBuffer();
    const checksum = await sha256Hex(bytes);
    const entry = { categoryId: category.value, version: version.value.trim(), locale: locale.value.trim(), checksum, checksumType: 'sha256' };
    if (summary.value.trim()) entry.summary = summary.value.trim();
    const created = await api('POST', '/files', { files: [entry] });
    const fileId = created.files[0].fileId;
    const { upload } = await api('POST', path`/files/by-id/${fileId}/upload`, { size: file.size });
    await sendBytes(upload, bytes, (fraction) => {
      progress.value = fraction;
      progressText.textContent = `${Math.round(fraction * 100)}% of ${file.size} bytes`;
    });
    progress.value = 1;
    await api('POST', path`/files/by-id/${fileId}/upload/complete`);
    progressText.textContent = `uploaded and verified (${file.size} bytes)`;
  }, () => loadFiles()));

  replace(view(), h('h1', {}, 'Firmware'),
    h('h2', {}, 'Files'),
    h('div', { class: 'toolbar' }, h('label', {}, 'State', stateFilter)),
    h('div', { class: 'table-wrap' }, h('table', { id: 'files' }, h('thead', {}, h('tr', {},
      ['Version', 'Locale', 'Category', 'State', 'Size', 'Summary', ''].map((t, i) => h('th', { scope: 'col', class: i === 5 ? 'hide-narrow' : undefined }, t)))), filesBody)),
    pages.el, filesError,
    h('h2', {}, 'Upload a file'), uploadForm,
    h('h2', {}, 'Categories'),
    h('div', { class: 'table-wrap' }, h('table', { id: 'categories' }, h('thead', {}, h('tr', {},
      ['Name', 'Parent', 'Description'].map((t) => h('th', { scope: 'col' }, t)))), categoriesBody)),
    h('section', { class: 'card' }, catForm, catError));

  let names = new Map();
  async function loadCategories() {
    const categories = await listAll('/categories', 'categories', 1000);
    if (!ctx.alive()) return;
    names = new Map(categories.map((c) => [c.categoryId, c.name]));
    fillRows(categoriesBody, categories.map((c) => h('tr', {}, h('td', {}, c.name), h('td', {}, c.parentId ? names.get(c.parentId) || c.parentId : '—'),
      h('td', {}, c.description || ''))), 3, 'No categories yet: create one to upload files.');
    const list = categories.map((c) => [c.categoryId, c.parentId ? `${names.get(c.parentId) || ''} / ${c.name}` : c.name]);
    options(category, list);
    options(catParent, categories.filter((c) => !c.parentId).map((c) => [c.categoryId, c.name]), { blank: 'No parent' });
  }
  async function loadFiles() {
    const page = await api('GET', `/files${query({ maxResults: PAGE_SIZE, nextToken: pages.token(), state: stateFilter.value })}`);
    if (!ctx.alive()) return false;
    const act = (work) => action(filesError, work, () => loadFiles());
    fillRows(filesBody, page.files.map((f) => h('tr', { 'data-file': f.fileId },
      h('td', {}, f.version), h('td', {}, f.locale), h('td', {}, names.get(f.categoryId) || f.categoryId),
      h('td', {}, badge(f.state)), h('td', { class: 'num' }, f.size ?? ''), h('td', { class: 'hide-narrow' }, f.summary || ''),
      h('td', {},
        f.state === 'DRAFT' && h('button', { type: 'button', onclick: act(() => api('PUT', path`/files/by-id/${f.fileId}/publish`)) }, 'Publish'), ' ',
        f.state === 'PUBLISHED' && h('button', { type: 'button', onclick: act(() => api('PUT', path`/files/by-id/${f.fileId}/deprecate`)) }, 'Deprecate'), ' ',
        (f.state === 'PUBLISHED' || f.state === 'DEPRECATED') && h('button', { type: 'button', onclick: () => { location.hash = `#/jobs/new?files=${encodeURIComponent(f.fileId)}`; } }, 'Deploy to…'), ' ',
        f.size !== undefined && h('button', { type: 'button', onclick: act(async () => {
          const { download } = await api('GET', path`/files/by-id/${f.fileId}/download`);
          window.open(download.url, '_blank', 'noopener');
        }) }, 'Download')))),
    7, 'No files in this view.');
    pages.showing(page.nextToken);
    return page.files.some((f) => f.state === 'VERIFYING');
  }
  await loadCategories();
  ctx.poll(loadFiles);
}

// ---------------------------------------------------------------------------------------------
// Signing in through a Cognito user pool (when config.json says so): the user pool's own API,
// USER_PASSWORD_AUTH with a public app client, and the ID token sent as the API's Authorization.

function currentSession() {
  if (config.signIn !== 'COGNITO_USER_POOLS') return null;
  try {
    const session = JSON.parse(sessionStorage.getItem(TOKEN_KEY));
    return session && session.expiresAt > Date.now() ? session : null;
  } catch {
    return null;
  }
}

function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
  showAccount();
  route();
}

function showAccount() {
  const session = currentSession();
  document.getElementById('account').hidden = !session;
  document.getElementById('account-name').textContent = session ? session.username : '';
}

/** One call of Cognito's user pool API; rejects with Cognito's own message. */
async function cognito(target, body) {
  let response;
  try {
    response = await fetch(config.endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': `AWSCognitoIdentityProviderService.${target}`,
      },
      body: JSON.stringify(body),
    });
  } catch (e) {
    throw new Error(`the user pool could not be reached (${e.message})`);
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.message || data.Message || `${target} answered ${response.status}`);
  return data;
}

function signInPage() {
  const username = h('input', { type: 'text', id: 'sign-in-user', autocomplete: 'username' });
  const password = h('input', { type: 'password', id: 'sign-in-password', autocomplete: 'current-password' });
  const newPassword = h('input', { type: 'password', id: 'sign-in-new-password', autocomplete: 'new-password' });
  const newPasswordField = h('label', { hidden: true }, 'Choose a new password (the pool asks for one)', newPassword);
  const error = errorBox();
  let challenge = null;
  const form = h('form', { class: 'card', id: 'sign-in' },
    h('div', { class: 'grid' }, h('label', {}, 'User name', username), h('label', {}, 'Password', password), newPasswordField),
    h('div', { class: 'toolbar' }, h('button', { type: 'submit', class: 'primary' }, 'Sign in')), error);
  form.addEventListener('submit', action(error, async () => {
    const answer = challenge
      ? await cognito('RespondToAuthChallenge', {
        ChallengeName: 'NEW_PASSWORD_REQUIRED',
        ClientId: config.clientId,
        Session: challenge,
        ChallengeResponses: { USERNAME: username.value.trim(), NEW_PASSWORD: newPassword.value },
      })
      : await cognito('InitiateAuth', {
        AuthFlow: 'USER_PASSWORD_AUTH',
        ClientId: config.clientId,
        AuthParameters: { USERNAME: username.value.trim(), PASSWORD: password.value },
      });
    if (answer.ChallengeName === 'NEW_PASSWORD_REQUIRED') {
      challenge = answer.Session;
      newPasswordField.hidden = false;
      newPassword.focus();
      throw new Error('The user pool asks for a new password before the first sign-in.');
    }
    if (answer.ChallengeName) throw new Error(`The user pool asks for ${answer.ChallengeName}, which this console does not offer.`);
    const result = answer.AuthenticationResult;
    sessionStorage.setItem(TOKEN_KEY, JSON.stringify({
      username: username.value.trim(),
      idToken: result.IdToken,
      expiresAt: Date.now() + (result.ExpiresIn - 60) * 1000,
    }));
  }, () => { showAccount(); route(); }));
  replace(view(), h('h1', {}, 'Sign in'),
    h('p', { class: 'muted' }, 'This API takes calls from the users of its Cognito user pool.'), form);
  username.focus();
}

// ---------------------------------------------------------------------------------------------
// The router

const ROUTES = [
  [/^\/jobs\/new$/, newJobPage, 'jobs'],
  [/^\/jobs\/([^/]+)$/, jobPage, 'jobs'],
  [/^\/jobs$/, jobsPage, 'jobs'],
  [/^\/things\/([^/]+)$/, thingPage, 'things'],
  [/^\/things$/, thingsPage, 'things'],
  [/^\/groups\/([^/]+)$/, groupPage, 'groups'],
  [/^\/groups$/, groupsPage, 'groups'],
  [/^\/thing-types$/, thingTypesPage, 'thing-types'],
  [/^\/files$/, filesPage, 'files'],
];

// How often a page that shows something running refreshes, and how often one that does not.
const FAST_REFRESH_MS = 1500;
const SLOW_REFRESH_MS = 10000;

let current = null;

function route() {
  // A fragment that is no page (the skip link's #view) moves focus, not the page.
  if (location.hash && !location.hash.startsWith('#/')) return;
  if (current) current.stop();
  if (config.signIn === 'COGNITO_USER_POOLS' && !currentSession()) {
    current = null;
    signInPage();
    return;
  }
  const [where, search] = (location.hash.slice(1) || '/jobs').split('?');
  const found = ROUTES.find(([pattern]) => pattern.test(where));
  for (const link of document.querySelectorAll('header nav a[data-section]')) {
    if (found && link.dataset.section === found[2]) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (!found) {
    replace(view(), h('h1', {}, 'Not found'), h('p', {}, 'No page here. ', h('a', { href: '#/jobs' }, 'Go to jobs.')));
    return;
  }
  const [pattern, page] = found;
  const match = where.match(pattern);
  let alive = true;
  let timer = null;
  const ctx = {
    alive: () => alive,
    // Runs `refresh` now and again while the page is shown: quickly while it reports that
    // something runs, slowly otherwise. A failed refresh keeps what is shown and says why.
    poll: (refresh) => {
      const tick = async () => {
        let running = true;
        try {
          running = await refresh();
        } catch (e) {
          if (alive) showError(e);
        }
        if (alive) timer = setTimeout(tick, running ? FAST_REFRESH_MS : SLOW_REFRESH_MS);
      };
      tick();
    },
  };
  current = { stop: () => { alive = false; clearTimeout(timer); } };
  const params = new URLSearchParams(search || '');
  Promise.resolve(page(ctx, match[1] && decodeURIComponent(match[1]), params)).catch((e) => {
    if (alive) showError(e);
  });
  view().focus({ preventScroll: true });
}

/** Reads config.json, then shows the page the URL names (or the sign-in first). */
async function start() {
  try {
    const response = await fetch(new URL('console/config.json', location.href));
    if (!response.ok) throw new Error(`console/config.json answered ${response.status}`);
    config = await response.json();
  } catch (e) {
    replace(view(), h('h1', {}, 'The console cannot start'), h('p', {}, e.message));
    return;
  }
  document.getElementById('docs-link').hidden = !config.docs;
  document.getElementById('sign-out').addEventListener('click', signOut);
  showAccount();
  window.addEventListener('hashchange', route);
  route();
}

start();
