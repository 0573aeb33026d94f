// Pat's web UI: a message list that follows the live event stream (new mail and deletions),
// search, a message view (HTML in a sandboxed frame, text, headers, raw source, attachments),
// deletes and a tenant switcher. Plain JavaScript, no dependencies, nothing loaded from
// elsewhere.
//
// It has two parts: `api`, the data layer, which reads messages through Mailpit's API when the
// server offers it (GET /api/v1/info answers 200) and MailHog's otherwise, and hands the rest of
// the page the same plain objects either way; and the page itself. Live events and a message's
// HTML come from Pat's own API (/api/v3/events, /api/v3/messages/{id}/html) in either case.
'use strict'

// ---- MIME helpers (MailHog's JSON leaves bodies and headers encoded) ----

const mime = (() => {
  function base64Bytes(text) {
    const clean = text.replace(/[^A-Za-z0-9+/]/g, '')
    const bin = atob(clean.slice(0, clean.length - (clean.length % 4)))
    const out = new Uint8Array(bin.length)
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i)
    return out
  }

  // Quoted-printable (body: soft line breaks; header: '_' is a space).
  function qpBytes(text, header) {
    const src = new TextEncoder().encode(text)
    const out = []
    const hex = c => (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102)
    for (let i = 0; i < src.length; i++) {
      const c = src[i]
      if (c === 61 /* = */) {
        if (src[i + 1] === 13 && src[i + 2] === 10) { i += 2; continue }
        if (src[i + 1] === 10) { i += 1; continue }
        if (hex(src[i + 1]) && hex(src[i + 2])) {
          out.push(parseInt(String.fromCharCode(src[i + 1], src[i + 2]), 16))
          i += 2
          continue
        }
      }
      out.push(header && c === 95 /* _ */ ? 32 : c)
    }
    return new Uint8Array(out)
  }

  function decodeBytes(bytes, charset) {
    try {
      return new TextDecoder((charset || 'utf-8').trim().toLowerCase()).decode(bytes)
    } catch {
      return new TextDecoder('utf-8').decode(bytes)
    }
  }

  // RFC 2047 encoded words; white space between two of them goes.
  function decodeWords(s) {
    if (!s || s.indexOf('=?') === -1) return s || ''
    return s.replace(/=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=(?:\s+(?==\?[^?\s]+\?[bBqQ]\?))?/g, (all, charset, enc, text) => {
      try {
        const bytes = enc.toUpperCase() === 'B' ? base64Bytes(text) : qpBytes(text, true)
        return decodeBytes(bytes, charset.split('*')[0])
      } catch {
        return all
      }
    })
  }

  // "type/sub; a=b; c=\"d\"" → {value, params}
  function parseParams(header) {
    const parts = (header || '').split(';')
    const params = {}
    for (const p of parts.slice(1)) {
      const eq = p.indexOf('=')
      if (eq === -1) continue
      let v = p.slice(eq + 1).trim()
      if (v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1).replace(/\\(.)/g, '$1')
      params[p.slice(0, eq).trim().toLowerCase()] = v
    }
    return { value: parts[0].trim().toLowerCase(), params }
  }

  function header(headers, name) {
    if (!headers) return []
    const want = name.toLowerCase()
    for (const k of Object.keys(headers)) if (k.toLowerCase() === want) return headers[k] || []
    return []
  }

  function first(headers, name) {
    return header(headers, name)[0] || ''
  }

  function decodeBody(body, headers) {
    const cte = first(headers, 'Content-Transfer-Encoding').trim().toLowerCase()
    const charset = parseParams(first(headers, 'Content-Type')).params.charset
    try {
      if (cte === 'base64') return decodeBytes(base64Bytes(body || ''), charset)
      if (cte === 'quoted-printable') return decodeBytes(qpBytes(body || '', false), charset)
    } catch {
      /* shown as it is */
    }
    return body || ''
  }

  // "Name <a@b>" → {name, address}
  function parseAddress(text) {
    const s = decodeWords(text || '').trim()
    const m = /^(.*?)\s*<([^<>]*)>\s*$/.exec(s)
    if (!m) return { name: '', address: s }
    return { name: m[1].replace(/^"(.*)"$/, '$1').trim(), address: m[2].trim() }
  }

  // A header of addresses split at commas outside quotes and angle brackets.
  function parseAddressList(text) {
    const out = []
    let cur = ''
    let quoted = false
    let angle = 0
    for (const c of text || '') {
      if (c === '"') quoted = !quoted
      else if (!quoted && c === '<') angle++
      else if (!quoted && c === '>') angle--
      if (c === ',' && !quoted && angle <= 0) {
        if (cur.trim()) out.push(parseAddress(cur))
        cur = ''
      } else {
        cur += c
      }
    }
    if (cur.trim()) out.push(parseAddress(cur))
    return out
  }

  return { base64Bytes, decodeWords, parseParams, header, first, decodeBody, parseAddress, parseAddressList }
})()

// ---- the data layer ----
//
// Summary: {id, from: {name, address}, to: [{name, address}], subject, date: Date, size,
//           read (true/false, or undefined when the server does not track it), attachments}
// Message: Summary + {cc, text, html, attachments: [{name, type, size, url}],
//           headers (object or undefined), rawUrl}

const api = (() => {
  let tenant = ''
  let dialect = 'mailhog'

  function headers(extra) {
    const h = Object.assign({}, extra)
    if (tenant) h['X-Pat-Tenant'] = tenant
    return h
  }

  async function request(method, path, options = {}) {
    let res
    try {
      res = await fetch(path, { method, headers: headers(options.headers), body: options.body, cache: 'no-store' })
    } catch (e) {
      throw new Error(`the server cannot be reached (${e.message})`)
    }
    if (!res.ok) {
      let msg = `${res.status} ${res.statusText}`
      try {
        const j = await res.json()
        if (j && j.error) msg = j.error
      } catch {
        /* not JSON */
      }
      const err = new Error(msg)
      err.status = res.status
      throw err
    }
    return res
  }

  const getJSON = async path => (await request('GET', path)).json()
  const q = params => new URLSearchParams(params).toString()
  const enc = encodeURIComponent

  // Which API the server speaks: Mailpit's when /api/v1/info answers.
  async function detect() {
    try {
      const res = await fetch('/api/v1/info', { headers: headers(), cache: 'no-store' })
      dialect = res.ok ? 'mailpit' : 'mailhog'
    } catch {
      dialect = 'mailhog'
    }
    return dialect
  }

  // -- Mailpit --
  const mpAddress = a => ({ name: (a && a.Name) || '', address: (a && a.Address) || '' })
  const mpAddresses = list => (Array.isArray(list) ? list.map(mpAddress) : [])

  function mpSummary(s) {
    return {
      id: s.ID,
      from: mpAddress(s.From),
      to: mpAddresses(s.To),
      subject: s.Subject || '',
      date: new Date(s.Created || s.Date),
      size: s.Size || 0,
      read: typeof s.Read === 'boolean' ? s.Read : undefined,
      attachments: typeof s.Attachments === 'number' ? s.Attachments : undefined
    }
  }

  const mailpit = {
    async list(start, limit, query) {
      const page = query
        ? await getJSON(`/api/v1/search?${q({ query, start, limit })}`)
        : await getJSON(`/api/v1/messages?${q({ start, limit })}`)
      return {
        total: page.messages_count !== undefined ? page.messages_count : page.total,
        unread: page.unread,
        items: (page.messages || []).map(mpSummary)
      }
    },
    async message(id) {
      const m = await getJSON(`/api/v1/message/${enc(id)}`)
      const part = p => ({
        name: p.FileName || p.PartID,
        type: p.ContentType || 'application/octet-stream',
        size: p.Size,
        cid: p.ContentID || '',
        url: `/api/v1/message/${enc(id)}/part/${enc(p.PartID)}`
      })
      return Object.assign(mpSummary(m), {
        read: true,
        cc: mpAddresses(m.Cc),
        text: m.Text || '',
        html: m.HTML || '',
        attachments: (m.Attachments || []).map(part),
        headers: undefined,
        rawUrl: `/api/v1/message/${enc(id)}/raw`
      })
    },
    headers: async msg => getJSON(`/api/v1/message/${enc(msg.id)}/headers`),
    remove: async id =>
      request('DELETE', '/api/v1/messages', {
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ IDs: [id] })
      }),
    removeAll: async () => request('DELETE', '/api/v1/messages')
  }

  // -- MailHog --
  function mhPath(p) {
    return p ? { name: '', address: `${p.Mailbox}@${p.Domain}` } : { name: '', address: '' }
  }

  function mhSummary(m) {
    const h = (m.Content && m.Content.Headers) || {}
    const from = mime.first(h, 'From')
    const to = mime.header(h, 'To').join(', ')
    return {
      id: m.ID,
      from: from ? mime.parseAddress(from) : mhPath(m.From),
      to: to ? mime.parseAddressList(to) : (m.To || []).map(mhPath),
      subject: mime.decodeWords(mime.first(h, 'Subject')),
      date: new Date(m.Created),
      size: (m.Content && m.Content.Size) || (m.Raw && m.Raw.Data ? m.Raw.Data.length : 0),
      read: undefined,
      attachments: undefined
    }
  }

  // Text, HTML and attachments of a MailHog Message (inline parts, shown in the HTML, are not
  // attachments). Parts are top-level; a nested multipart carries its own MIME. Only top-level
  // parts can be downloaded alone.
  function mhParts(m) {
    const out = { text: '', html: '', attachments: [] }
    const visit = (content, top) => {
      const h = content.Headers || {}
      const type = mime.parseParams(mime.first(h, 'Content-Type') || 'text/plain')
      if (content.MIME && Array.isArray(content.MIME.Parts)) {
        content.MIME.Parts.forEach((p, i) => visit(p, top === null ? i : -1))
        return
      }
      if (type.value.startsWith('multipart/')) return
      const disp = mime.parseParams(mime.first(h, 'Content-Disposition'))
      const name = mime.decodeWords(disp.params.filename || type.params.name || '')
      const cid = mime.first(h, 'Content-ID').replace(/^\s*<|>\s*$/g, '')
      const url = top !== null && top >= 0 ? `/api/v1/messages/${encodeURIComponent(m.ID)}/mime/part/${top}/download` : ''
      const isText = type.value === 'text/plain' || type.value === 'text/html'
      if (disp.value === 'attachment' || (name && !isText && !cid)) {
        out.attachments.push({ name: name || `part-${top}`, type: type.value, size: (content.Body || '').length, url })
      } else if (type.value === 'text/html' && !out.html) {
        out.html = mime.decodeBody(content.Body, h)
      } else if (type.value === 'text/plain' && !out.text) {
        out.text = mime.decodeBody(content.Body, h)
      } else if (cid) {
        // An inline part: the server puts it into the HTML it serves for the frame.
      } else if (name || top >= 0) {
        out.attachments.push({ name: name || `part-${top}`, type: type.value, size: (content.Body || '').length, url })
      }
    }
    if (m.MIME && Array.isArray(m.MIME.Parts)) visit({ Headers: {}, MIME: m.MIME }, null)
    else visit(Object.assign({}, m.Content, { MIME: null }), -1)
    return out
  }

  const mailhog = {
    async list(start, limit, query) {
      let page
      if (query) {
        // "from:x" and "to:x" pick MailHog's kinds; anything else is "containing".
        const m = /^(from|to):\s*(.+)$/i.exec(query.trim())
        const kind = m ? m[1].toLowerCase() : 'containing'
        page = await getJSON(`/api/v2/search?${q({ kind, query: m ? m[2] : query.trim(), start, limit })}`)
      } else {
        page = await getJSON(`/api/v2/messages?${q({ start, limit })}`)
      }
      return { total: page.total, unread: undefined, items: (page.items || []).map(mhSummary) }
    },
    async message(id) {
      const m = await getJSON(`/api/v1/messages/${enc(id)}`)
      return Object.assign(mhSummary(m), mhParts(m), {
        cc: mime.parseAddressList(mime.header(m.Content.Headers, 'Cc').join(', ')),
        headers: m.Content.Headers,
        rawUrl: `/api/v1/messages/${enc(id)}/download`
      })
    },
    headers: async msg => msg.headers,
    remove: async id => request('DELETE', `/api/v1/messages/${enc(id)}`),
    removeAll: async () => request('DELETE', '/api/v1/messages')
  }

  const impl = () => (dialect === 'mailpit' ? mailpit : mailhog)

  return {
    detect,
    get dialect() {
      return dialect
    },
    get tenant() {
      return tenant
    },
    setTenant(t) {
      tenant = t
    },
    list: (start, limit, query) => impl().list(start, limit, query),
    message: id => impl().message(id),
    headers: msg => impl().headers(msg),
    raw: async msg => (await request('GET', msg.rawUrl)).text(),
    blob: async url => (await request('GET', url)).blob(),
    remove: id => impl().remove(id),
    removeAll: () => impl().removeAll(),
    // The message's HTML as a document of its own, with a policy of its own (styles and data:
    // images only); a frame sends no headers, so the tenant goes in the query.
    htmlUrl: id => `/api/v3/messages/${enc(id)}/html` + (tenant ? `?${q({ tenant })}` : ''),
    // Live events of the tenant from Pat's WebSocket (a WebSocket cannot send headers either):
    // onEvent gets {type: 'new', id}, {type: 'deleted', id} or {type: 'deleted', all: true};
    // onState(true) once the stream is open and onState(false) when it drops, after which it
    // connects again, waiting longer after each failure (up to 10 s). Returns a function that
    // closes it for good.
    subscribe(onEvent, onState) {
      const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:'
      const url = `${scheme}//${location.host}/api/v3/events` + (tenant ? `?${q({ tenant })}` : '')
      let ws = null
      let timer = 0
      let delay = 500
      let closed = false
      const connect = () => {
        ws = new WebSocket(url)
        ws.addEventListener('open', () => {
          delay = 500
          onState(true)
        })
        ws.addEventListener('message', ev => {
          let event
          try {
            event = JSON.parse(ev.data)
          } catch {
            return
          }
          if (event && typeof event.type === 'string') onEvent(event)
        })
        ws.addEventListener('close', () => {
          if (closed) return
          onState(false)
          timer = setTimeout(connect, delay)
          delay = Math.min(delay * 2, 10000)
        })
      }
      connect()
      return () => {
        closed = true
        clearTimeout(timer)
        if (ws) ws.close()
      }
    }
  }
})()

// ---- the page ----

const $ = id => document.getElementById(id)
const PAGE = 50
const TENANT_RE = /^[a-z0-9][a-z0-9-]{0,62}$/

const state = {
  items: [],
  total: 0,
  unread: undefined, // the mailbox's unread count, when the server tracks read state
  query: '',
  selected: null, // id
  message: null, // the open Message
  closeEvents: null,
  listFailed: false, // the status line shows a failure to load the list
  refreshTimer: 0,
  loadSeq: 0,
  openSeq: 0
}

function status(text, info) {
  const el = $('status')
  el.textContent = text || ''
  el.classList.toggle('info', !!info)
}

function fmtSize(n) {
  if (!n && n !== 0) return ''
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10240 ? 1 : 0)} kB`
  return `${(n / 1024 / 1024).toFixed(1)} MB`
}

function fmtDate(d, long) {
  if (!(d instanceof Date) || isNaN(d)) return ''
  if (long) return d.toLocaleString()
  const now = new Date()
  return d.toDateString() === now.toDateString()
    ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    : d.toLocaleDateString([], { year: 'numeric', month: 'short', day: 'numeric' })
}

const fmtAddress = a => (a.name ? `${a.name} <${a.address}>` : a.address)

function el(tag, props, ...children) {
  const e = document.createElement(tag)
  for (const [k, v] of Object.entries(props || {})) {
    if (k === 'class') e.className = v
    else if (k === 'text') e.textContent = v
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v)
    else e.setAttribute(k, v)
  }
  for (const c of children) e.append(c)
  return e
}

// -- list --

function renderList() {
  const ul = $('messages')
  const focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.id : null
  ul.replaceChildren(
    ...state.items.map(m => {
      const btn = el(
        'button',
        {
          type: 'button',
          class: m.read === false ? 'unread' : '',
          'data-id': m.id,
          'aria-label': `${m.read === false ? 'Unread. ' : ''}From ${m.from.name || m.from.address}, ${m.subject || 'no subject'}, ${fmtDate(m.date, true)}`,
          onclick: () => openMessage(m.id)
        },
        el('span', { class: 'from', text: m.from.name || m.from.address || '(no sender)' }),
        el('span', { class: 'date', text: fmtDate(m.date) }),
        el('span', { class: 'subject', text: m.subject || '(no subject)' }),
        el('span', { class: 'size', text: fmtSize(m.size) })
      )
      if (m.id === state.selected) btn.setAttribute('aria-current', 'true')
      return el('li', { 'data-id': m.id }, btn)
    })
  )
  if (focused) {
    const again = ul.querySelector(`button[data-id="${CSS.escape(focused)}"]`)
    if (again) again.focus()
  }
  const shown = state.items.length
  $('count').textContent = state.query
    ? `${state.total} found`
    : `${state.total} message${state.total === 1 ? '' : 's'}${state.unread ? `, ${state.unread} unread` : ''}`
  $('empty').hidden = shown > 0
  $('empty').textContent = state.query ? 'Nothing matches' : 'No messages'
  $('more').hidden = shown >= state.total
  $('delete-all').disabled = !state.query && state.total === 0
}

// Load the list from the start, as many as are shown (at least a page).
async function loadList() {
  const seq = ++state.loadSeq
  const limit = Math.max(PAGE, state.items.length)
  try {
    const page = await api.list(0, limit, state.query)
    if (seq !== state.loadSeq) return
    state.items = page.items
    state.total = page.total
    state.unread = page.unread
    // A failure to load is over; any other news stays.
    if (state.listFailed) status('')
    state.listFailed = false
    renderList()
  } catch (e) {
    if (seq !== state.loadSeq) return
    state.listFailed = true
    status(`Cannot load messages: ${e.message}`)
  }
}

async function loadMore() {
  try {
    const page = await api.list(state.items.length, PAGE, state.query)
    const known = new Set(state.items.map(m => m.id))
    state.items.push(...page.items.filter(m => !known.has(m.id)))
    state.total = page.total
    renderList()
  } catch (e) {
    state.listFailed = true
    status(`Cannot load messages: ${e.message}`)
  }
}

function scheduleRefresh() {
  clearTimeout(state.refreshTimer)
  state.refreshTimer = setTimeout(loadList, 150)
}

// -- live events --

function setLive(on) {
  const live = $('live')
  live.classList.toggle('on', on)
  const text = on ? 'Live updates: on' : 'Live updates: reconnecting'
  live.title = text
  live.setAttribute('aria-label', text)
}

function startEvents() {
  if (state.closeEvents) state.closeEvents()
  let wasOpen = false
  state.closeEvents = api.subscribe(onEvent, on => {
    setLive(on)
    // Back after a break: what came and went meanwhile was not announced.
    if (on && wasOpen) resync()
    if (on) wasOpen = true
  })
}

function onEvent(event) {
  if (event.type === 'new') scheduleRefresh()
  else if (event.type === 'deleted' && event.all === true) removedAll()
  else if (event.type === 'deleted' && typeof event.id === 'string') removed(event.id)
}

// The open message is gone: close it and say so.
function closeGone(text) {
  closeMessage()
  status(text, true)
}

// A message was deleted (here, in another tab or by another client): it leaves the list and,
// when open, the view at once; the list and its counts are then read again. A load already
// under way may predate the deletion, so its answer is dropped.
function removed(id) {
  const item = state.items.find(m => m.id === id)
  state.loadSeq++
  if (item) {
    state.items = state.items.filter(m => m !== item)
    state.total = Math.max(0, state.total - 1)
    if (item.read === false && state.unread) state.unread--
  }
  if (state.selected === id) closeGone('The open message was deleted.')
  if (item) renderList()
  scheduleRefresh()
}

// The tenant's mailbox was emptied.
function removedAll() {
  state.loadSeq++
  state.items = []
  state.total = 0
  state.unread = undefined
  if (state.selected !== null) closeGone('All messages were deleted, the open one too.')
  renderList()
  scheduleRefresh()
}

// After the stream was down: read the list again, and close the open message if it went.
async function resync() {
  scheduleRefresh()
  const id = state.selected
  if (id === null) return
  try {
    await api.message(id)
  } catch (e) {
    if (e.status === 404 && state.selected === id) closeGone('The open message was deleted.')
  }
}

// -- message view --

function selectTab(name, focus) {
  for (const tab of document.querySelectorAll('[role="tab"]')) {
    const on = tab.id === `tab-${name}`
    tab.setAttribute('aria-selected', on ? 'true' : 'false')
    tab.tabIndex = on ? 0 : -1
    $(tab.getAttribute('aria-controls')).hidden = !on
    if (on && focus) tab.focus()
  }
  if (state.message) fillTab(name)
}

// The HTML body in a frame that may run nothing and load nothing from elsewhere: the sandbox
// allows neither scripts nor same-origin access, and the document comes from the server with
// a policy of its own that allows the message's own styles and data: images (its cid: parts,
// inlined by the server) and nothing else. A srcdoc document would inherit this page's policy,
// whose style-src 'self' drops the message's styles.
function showHtml(msg) {
  const frame = $('html-frame')
  $('no-html').hidden = !!msg.html
  frame.hidden = !msg.html
  frame.src = msg.html ? api.htmlUrl(msg.id) : 'about:blank'
}

async function fillTab(name) {
  const msg = state.message
  try {
    if (name === 'headers' && !msg.headersShown) {
      msg.headersShown = true
      const headers = (await api.headers(msg)) || {}
      if (state.message !== msg) return
      const rows = []
      for (const [k, values] of Object.entries(headers))
        for (const v of Array.isArray(values) ? values : [values])
          rows.push(el('tr', {}, el('th', { scope: 'row', text: k }), el('td', { text: mime.decodeWords(String(v)) })))
      $('headers-table').tBodies[0].replaceChildren(...rows)
    } else if (name === 'raw' && !msg.rawShown) {
      msg.rawShown = true
      $('raw-body').textContent = 'Loading…'
      const raw = await api.raw(msg)
      if (state.message === msg) $('raw-body').textContent = raw
    }
  } catch (e) {
    if (name === 'headers') msg.headersShown = false
    if (name === 'raw') msg.rawShown = false
    status(`Cannot load the ${name}: ${e.message}`)
  }
}

async function download(part) {
  try {
    const blob = await api.blob(part.url)
    const url = URL.createObjectURL(blob)
    const a = el('a', { href: url, download: part.name || 'attachment' })
    document.body.append(a)
    a.click()
    a.remove()
    setTimeout(() => URL.revokeObjectURL(url), 60000)
  } catch (e) {
    status(`Cannot download ${part.name}: ${e.message}`)
  }
}

function showMessage(msg) {
  state.message = msg
  $('placeholder').hidden = true
  $('view').hidden = false
  $('v-subject').textContent = msg.subject || '(no subject)'
  $('v-from').textContent = fmtAddress(msg.from)
  $('v-to').textContent = [...msg.to, ...(msg.cc || [])].map(fmtAddress).join(', ')
  $('v-date').textContent = fmtDate(msg.date, true)
  $('v-size').textContent = fmtSize(msg.size)
  $('text-body').textContent = msg.text || '(this message has no text part)'
  $('headers-table').tBodies[0].replaceChildren()
  $('raw-body').textContent = ''
  $('att-count').textContent = msg.attachments.length ? `(${msg.attachments.length})` : ''
  $('no-attachments').hidden = msg.attachments.length > 0
  $('attachments').replaceChildren(
    ...msg.attachments.map(a =>
      el(
        'li',
        {},
        a.url
          ? el('button', { type: 'button', class: 'download', onclick: () => download(a) }, `Download ${a.name}`)
          : el('span', { text: a.name }),
        el('span', { class: 'meta-line', text: `${a.type}${a.size ? ', ' + fmtSize(a.size) : ''}` })
      )
    )
  )
  showHtml(msg)
  const current = document.querySelector('[role="tab"][aria-selected="true"]')
  let tab = current ? current.id.slice(4) : 'html'
  if (tab === 'html' && !msg.html && msg.text) tab = 'text'
  selectTab(tab, false)
}

async function openMessage(id) {
  const seq = ++state.openSeq
  state.selected = id
  for (const b of $('messages').querySelectorAll('button[data-id]'))
    if (b.dataset.id === id) b.setAttribute('aria-current', 'true')
    else b.removeAttribute('aria-current')
  try {
    const msg = await api.message(id)
    if (seq !== state.openSeq) return
    showMessage(msg)
    const item = state.items.find(m => m.id === id)
    if (item && item.read === false) {
      item.read = true
      if (state.unread) state.unread--
      renderList()
    }
  } catch (e) {
    if (seq !== state.openSeq) return
    status(e.status === 404 ? 'That message is gone.' : `Cannot open the message: ${e.message}`)
    if (e.status === 404) scheduleRefresh()
  }
}

function closeMessage() {
  state.openSeq++ // a message still loading is not shown
  state.selected = null
  state.message = null
  $('view').hidden = true
  $('placeholder').hidden = false
  $('html-frame').src = 'about:blank'
  for (const b of $('messages').querySelectorAll('button[aria-current]')) b.removeAttribute('aria-current')
}

// -- deletes --

function confirmDialog(text, action) {
  const dlg = $('confirm')
  $('confirm-text').textContent = text
  $('confirm-ok').textContent = action
  dlg.returnValue = ''
  return new Promise(resolve => {
    dlg.addEventListener('close', () => resolve(dlg.returnValue === 'ok'), { once: true })
    dlg.showModal()
    $('confirm-cancel').focus()
  })
}

async function deleteSelected() {
  const msg = state.message
  if (!msg) return
  if (!(await confirmDialog(`Delete “${msg.subject || '(no subject)'}”?`, 'Delete'))) return
  const index = state.items.findIndex(m => m.id === msg.id)
  try {
    await api.remove(msg.id)
  } catch (e) {
    if (e.status !== 404) {
      status(`Cannot delete: ${e.message}`)
      return
    }
  }
  // As if announced (the stream's own event for it may come before or after: either way once).
  removed(msg.id)
  closeMessage()
  status('Message deleted.', true)
  const next = $('messages').querySelectorAll('button[data-id]')[Math.min(index, state.items.length - 1)]
  if (next) next.focus()
  else $('search').focus()
}

async function deleteAll() {
  const who = api.tenant ? ` of tenant “${api.tenant}”` : ''
  if (!(await confirmDialog(`Delete all ${state.query ? '' : state.total + ' '}messages${who}? This cannot be undone.`, 'Delete all')))
    return
  try {
    await api.removeAll()
  } catch (e) {
    status(`Cannot delete: ${e.message}`)
    return
  }
  removedAll()
  status('All messages deleted.', true)
}

// -- tenants --

function recentTenants() {
  try {
    const list = JSON.parse(localStorage.getItem('pat.tenants') || '[]')
    return Array.isArray(list) ? list.filter(t => typeof t === 'string' && TENANT_RE.test(t)) : []
  } catch {
    return []
  }
}

function rememberTenant(t) {
  const list = [t, ...recentTenants().filter(x => x !== t)].slice(0, 10)
  try {
    localStorage.setItem('pat.tenants', JSON.stringify(list))
    localStorage.setItem('pat.tenant', t)
  } catch {
    /* private mode: not remembered */
  }
  $('tenants').replaceChildren(...list.map(x => el('option', { value: x })))
}

function switchTenant(value) {
  const t = value.trim()
  const input = $('tenant')
  if (t !== '' && !TENANT_RE.test(t)) {
    input.setAttribute('aria-invalid', 'true')
    status(`“${t}” is not a tenant name: use 1 to 63 lower-case letters, digits and '-'.`)
    return
  }
  input.removeAttribute('aria-invalid')
  if (t === api.tenant) return
  api.setTenant(t)
  if (t) rememberTenant(t)
  else
    try {
      localStorage.removeItem('pat.tenant')
    } catch {
      /* not remembered */
    }
  closeMessage()
  state.items = []
  state.total = 0
  state.unread = undefined
  renderList()
  status(t ? `Tenant: ${t}` : 'Tenant: the listener’s default', true)
  startEvents()
  loadList()
}

// -- keyboard --

function moveFocus(delta) {
  const buttons = [...$('messages').querySelectorAll('button[data-id]')]
  if (!buttons.length) return
  let i = buttons.indexOf(document.activeElement)
  if (i === -1) i = Math.max(0, buttons.findIndex(b => b.dataset.id === state.selected))
  else i = Math.min(buttons.length - 1, Math.max(0, i + delta))
  buttons[i].focus()
  buttons[i].scrollIntoView({ block: 'nearest' })
}

function onKey(e) {
  if ($('confirm').open) return
  const t = e.target
  const typing = t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement
  if (e.key === '/' && !typing) {
    e.preventDefault()
    $('search').focus()
    $('search').select()
    return
  }
  if (e.key === 'Escape' && typing && t.id === 'search' && t.value) {
    t.value = ''
    state.query = ''
    loadList()
    return
  }
  if (typing || e.altKey || e.ctrlKey || e.metaKey) return
  const inList = $('messages').contains(t)
  if (inList && (e.key === 'ArrowDown' || e.key === 'j')) {
    e.preventDefault()
    moveFocus(1)
  } else if (inList && (e.key === 'ArrowUp' || e.key === 'k')) {
    e.preventDefault()
    moveFocus(-1)
  } else if (inList && e.key === 'Home') {
    e.preventDefault()
    moveFocus(-Infinity)
  } else if (inList && e.key === 'End') {
    e.preventDefault()
    moveFocus(Infinity)
  } else if (e.key === 'Delete' && state.message) {
    e.preventDefault()
    deleteSelected()
  }
}

function onTabKey(e) {
  const tabs = [...document.querySelectorAll('[role="tab"]')]
  const i = tabs.indexOf(e.target)
  let j = -1
  if (e.key === 'ArrowRight') j = (i + 1) % tabs.length
  else if (e.key === 'ArrowLeft') j = (i - 1 + tabs.length) % tabs.length
  else if (e.key === 'Home') j = 0
  else if (e.key === 'End') j = tabs.length - 1
  if (j === -1) return
  e.preventDefault()
  selectTab(tabs[j].id.slice(4), true)
}

// -- start --

async function main() {
  $('search-form').addEventListener('submit', e => {
    e.preventDefault()
    state.query = $('search').value.trim()
    state.items = []
    loadList()
  })
  $('search').addEventListener('input', () => {
    if ($('search').value === '' && state.query) {
      state.query = ''
      loadList()
    }
  })
  $('tenant').addEventListener('change', () => switchTenant($('tenant').value))
  $('tenant').addEventListener('keydown', e => {
    if (e.key === 'Enter') {
      e.preventDefault()
      switchTenant($('tenant').value)
    }
  })
  $('more').addEventListener('click', loadMore)
  $('delete-one').addEventListener('click', deleteSelected)
  $('delete-all').addEventListener('click', deleteAll)
  $('confirm-ok').addEventListener('click', () => $('confirm').close('ok'))
  $('confirm-cancel').addEventListener('click', () => $('confirm').close('cancel'))
  for (const tab of document.querySelectorAll('[role="tab"]')) {
    tab.addEventListener('click', () => selectTab(tab.id.slice(4), false))
    tab.addEventListener('keydown', onTabKey)
  }
  document.addEventListener('keydown', onKey)

  let saved = ''
  try {
    saved = localStorage.getItem('pat.tenant') || ''
  } catch {
    /* nothing remembered */
  }
  if (TENANT_RE.test(saved)) {
    api.setTenant(saved)
    $('tenant').value = saved
  }
  $('tenants').replaceChildren(...recentTenants().map(x => el('option', { value: x })))

  const dialect = await api.detect()
  $('dialect').textContent = dialect === 'mailpit' ? 'Mailpit API' : 'MailHog API'
  $('search').placeholder =
    dialect === 'mailpit' ? 'Search: words, "phrases", from: to: subject: is:unread has:attachment, -not (press /)' : 'Search: text, or from:… / to:… (press /)'
  startEvents()
  await loadList()
  document.body.dataset.ready = 'true'
}

main()
