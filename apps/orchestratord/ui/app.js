// The status page of orchestratord: follows /v2/pools/events and /v2/activity/events (server-sent
// events read through fetch, so the bearer token can go in a header) and drives the pools through
// the control plane routes. No framework, no build step: the browser loads this file as it is.

const tokenKey = "llama-orch.token"
const maxTasks = 50
const drainDeadlineMs = 30_000
const reconnectMs = 1_000

const $ = (id) => document.getElementById(id)

/** @type {Map<string, object>} the pools by id, as the last event said */
const pools = new Map()
/** @type {Map<string, object>} the recent tasks by id */
const tasks = new Map()
let queueDepths = {}
/** The action a 401 interrupted, run again once the operator gives a token. */
let retryAfterToken

const token = () => sessionStorage.getItem(tokenKey) ?? ""
const authHeaders = () => token() === "" ? {} : { authorization: `Bearer ${token()}` }

const element = (tag, props = {}, children = []) => {
  const node = document.createElement(tag)
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value
    else if (key === "text") node.textContent = value
    else node.setAttribute(key, value)
  }
  for (const child of children) node.append(child)
  return node
}

const notice = (message, bad = false) => {
  const box = $("notice")
  box.textContent = message
  box.classList.toggle("bad", bad)
}

const connection = (text, state) => {
  const box = $("connection")
  box.textContent = text
  box.className = state
}

// ---- the token ---------------------------------------------------------------------------------

const askToken = (hint) => {
  const form = $("token-form")
  if (hint !== undefined) $("token-hint").textContent = hint
  form.hidden = false
  $("token").focus()
}

const onTokenSubmit = (event) => {
  event.preventDefault()
  const value = $("token").value.trim()
  if (value === "") return
  sessionStorage.setItem(tokenKey, value)
  $("token").value = ""
  $("token-form").hidden = true
  startStreams()
  const retry = retryAfterToken
  retryAfterToken = undefined
  if (retry !== undefined) retry()
}

// ---- server-sent events over fetch -------------------------------------------------------------

/** Splits one event block into its event name, id and data. */
const parseBlock = (block) => {
  let event = "message"
  let id
  const data = []
  for (const line of block.split("\n")) {
    if (line === "" || line.startsWith(":")) continue
    const colon = line.indexOf(":")
    const field = colon === -1 ? line : line.slice(0, colon)
    const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "")
    if (field === "event") event = value
    else if (field === "data") data.push(value)
    else if (field === "id") id = value
  }
  return { event, id, data: data.join("\n") }
}

/**
 * Follows one event stream until `signal` aborts, reconnecting after a cut; `onEvent` gets each
 * event with its data parsed. Answers when the stream needs a token.
 */
const follow = async (path, onEvent, onOpen, signal) => {
  while (!signal.aborted) {
    try {
      const response = await fetch(path, {
        headers: { accept: "text/event-stream", ...authHeaders() },
        cache: "no-store",
        signal
      })
      if (response.status === 401) {
        sessionStorage.removeItem(tokenKey)
        askToken("The token was refused: give the daemon's bearer token.")
        return
      }
      if (!response.ok || response.body === null) throw new Error(`${path} answered ${response.status}`)
      onOpen()
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
      let buffer = ""
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        buffer += value
        let end
        while ((end = buffer.indexOf("\n\n")) !== -1) {
          const block = parseBlock(buffer.slice(0, end))
          buffer = buffer.slice(end + 2)
          if (block.data !== "") onEvent(block.event, JSON.parse(block.data))
        }
      }
    } catch (error) {
      if (signal.aborted) return
      connection(`Disconnected (${error instanceof Error ? error.message : String(error)}); reconnecting…`, "down")
    }
    if (signal.aborted) return
    connection("Disconnected; reconnecting…", "down")
    await new Promise((resolve) => setTimeout(resolve, reconnectMs))
  }
}

/** The last event of a stream that failed (`error`: its old name) says why. */
const streamFailed = (what, event, data) => {
  if (event === "failed" || event === "error") connection(`${what} unavailable: ${data.message}`, "down")
}

let streams

const startStreams = () => {
  streams?.abort()
  streams = new AbortController()
  const open = new Set()
  const opened = (name) => () => {
    open.add(name)
    if (open.size === 2) connection("Live", "live")
  }
  follow("/v2/pools/events", onPoolEvent, opened("pools"), streams.signal)
  follow("/v2/activity/events", onActivityEvent, opened("activity"), streams.signal)
}

// ---- pools -------------------------------------------------------------------------------------

const onPoolEvent = (event, data) => {
  if (event === "snapshot") {
    pools.clear()
    for (const pool of data.pools) pools.set(pool.pool_id, pool)
  } else if (event === "status") {
    if (data.reason === "removed") pools.delete(data.pool.pool_id)
    else pools.set(data.pool.pool_id, data.pool)
  } else {
    streamFailed("Pools", event, data)
    return
  }
  renderPools()
  renderQueues()
}

/** The rows of the pool tables, kept across updates so a model typed for a reload stays. */
const poolRows = new Map()

const poolRow = (pool) => {
  const id = pool.pool_id
  const existing = poolRows.get(id)
  if (existing !== undefined) return existing
  const model = element("input", {
    type: "text",
    "aria-label": `Model to reload pool ${id} with`,
    placeholder: "model",
    "data-action-input": "reload"
  })
  const button = (label, action) =>
    element("button", { type: "button", "data-action": action, "aria-label": `${label} pool ${id}` }, [label])
  const drain = button("Drain", "drain")
  const preload = button("Preload", "preload")
  const reload = button("Reload", "reload")
  drain.addEventListener("click", () => act(drain, id, "drain", { deadline_ms: drainDeadlineMs }))
  preload.addEventListener("click", () => act(preload, id, "preload", undefined))
  reload.addEventListener("click", () => {
    const ref = model.value.trim() === "" ? pools.get(id)?.model : model.value.trim()
    act(reload, id, "reload", { model_ref: ref })
  })
  const cells = {
    state: element("td"),
    model: element("td"),
    generation: element("td", { class: "num" }),
    slots: element("td", { class: "num" }),
    restarts: element("td", { class: "num" }),
    error: element("td", { class: "error" })
  }
  const row = element("tr", { "data-pool": id }, [
    element("th", { scope: "row" }, [element("code", { text: id })]),
    cells.state,
    cells.model,
    cells.generation,
    cells.slots,
    cells.restarts,
    cells.error,
    element("td", {}, [element("div", { class: "actions" }, [drain, preload, model, reload])])
  ])
  const entry = { row, cells }
  poolRows.set(id, entry)
  return entry
}

const poolTable = (node) =>
  element("table", { "data-node": node, "aria-label": `Pools on ${node}` }, [
    element("thead", {}, [
      element(
        "tr",
        {},
        ["Pool", "State", "Model", "Generation", "Slots used / free", "Restarts", "Last error", "Actions"].map((h) =>
          element("th", { scope: "col" }, [h])
        )
      )
    ]),
    element("tbody")
  ])

const renderPools = () => {
  const container = $("nodes")
  if (pools.size === 0) {
    container.replaceChildren(element("p", { class: "empty", text: "No pools yet." }))
    poolRows.clear()
    return
  }
  const byNode = new Map()
  for (const pool of [...pools.values()].sort((a, b) => a.pool_id.localeCompare(b.pool_id))) {
    const node = pool.node ?? "this host"
    if (!byNode.has(node)) byNode.set(node, [])
    byNode.get(node).push(pool)
  }
  for (const id of [...poolRows.keys()]) if (!pools.has(id)) poolRows.delete(id)
  const sections = []
  for (const [node, list] of [...byNode].sort(([a], [b]) => a.localeCompare(b))) {
    const reachable = list.some((p) => p.node_state !== "unreachable")
    const title = element("h3", { text: reachable ? node : `${node} (unreachable)` })
    const table = container.querySelector(`table[data-node="${CSS.escape(node)}"]`) ?? poolTable(node)
    const body = table.tBodies[0]
    const rows = list.map((pool) => {
      const { cells, row } = poolRow(pool)
      const used = pool.metrics.slots_total - pool.metrics.slots_free
      const state = pool.draining && pool.state === "Ready" ? "Draining" : pool.state
      cells.state.replaceChildren(element("span", { class: `state state-${state}`, text: state }))
      if (pool.loading !== undefined) {
        const pct = pool.loading.fraction === undefined ? "" : ` ${Math.round(pool.loading.fraction * 100)}%`
        cells.state.append(` (loading${pct})`)
      }
      cells.model.textContent = pool.model
      cells.generation.textContent = String(pool.generation)
      cells.slots.textContent = `${used} / ${pool.metrics.slots_free}`
      cells.restarts.textContent = String(pool.restarts)
      cells.error.textContent = pool.last_error === undefined
        ? ""
        : `${pool.last_error.kind}: ${pool.last_error.message}`
      return row
    })
    body.replaceChildren(...rows)
    sections.push(title, table)
  }
  container.replaceChildren(...sections)
}

// ---- the control plane -------------------------------------------------------------------------

const act = async (button, poolId, action, body) => {
  button.disabled = true
  notice(`${action} ${poolId}…`)
  try {
    const response = await fetch(`/v2/pools/${encodeURIComponent(poolId)}/${action}`, {
      method: "POST",
      headers: { ...authHeaders(), ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    })
    const answer = await response.json().catch(() => ({}))
    if (response.status === 401) {
      sessionStorage.removeItem(tokenKey)
      retryAfterToken = () => act(button, poolId, action, body)
      askToken(`The daemon asks for a token to ${action} ${poolId}.`)
      notice(`${action} ${poolId}: needs a token`, true)
    } else if (!response.ok) {
      notice(`${action} ${poolId} failed: ${answer.message ?? `HTTP ${response.status}`}`, true)
    } else {
      notice(`${action} ${poolId}: ${response.status === 202 ? "accepted" : "done"}`)
    }
  } catch (error) {
    notice(`${action} ${poolId} failed: ${error instanceof Error ? error.message : String(error)}`, true)
  } finally {
    button.disabled = false
  }
}

// ---- queues and tasks --------------------------------------------------------------------------

const onActivityEvent = (event, data) => {
  if (event === "snapshot") {
    tasks.clear()
    for (const task of data.tasks) tasks.set(task.task_id, task)
    queueDepths = data.queue_depths
  } else if (event === "task") {
    tasks.set(data.task.task_id, data.task)
    queueDepths = data.queue_depths
    const oldest = [...tasks.values()].sort((a, b) => b.submitted_at_ms - a.submitted_at_ms).slice(maxTasks)
    for (const task of oldest) tasks.delete(task.task_id)
  } else {
    streamFailed("Tasks", event, data)
    return
  }
  renderQueues()
  renderTasks()
}

const renderQueues = () => {
  const depths = new Map(Object.entries(queueDepths))
  for (const pool of pools.values()) if (!depths.has(pool.model)) depths.set(pool.model, 0)
  const rows = [...depths].sort(([a], [b]) => a.localeCompare(b)).map(([model, depth]) =>
    element("tr", { "data-model": model }, [
      element("th", { scope: "row", text: model }),
      element("td", { class: "num", text: String(depth) })
    ])
  )
  $("queues").replaceChildren(
    ...(rows.length > 0 ? rows : [element("tr", {}, [element("td", { colspan: "2", class: "empty", text: "—" })])])
  )
}

const ms = (value) => value < 1000 ? `${Math.round(value)} ms` : `${(value / 1000).toFixed(2)} s`

const renderTasks = () => {
  const rows = [...tasks.values()].sort((a, b) => b.submitted_at_ms - a.submitted_at_ms).map((task) => {
    const ttft = task.first_token_at_ms === undefined ? "—" : ms(task.first_token_at_ms - task.submitted_at_ms)
    const decodeMs = task.ended_at_ms !== undefined && task.first_token_at_ms !== undefined
      ? task.ended_at_ms - task.first_token_at_ms
      : 0
    const rate = decodeMs > 0 && task.tokens_out > 1 ? ((task.tokens_out - 1) / (decodeMs / 1000)).toFixed(1) : "—"
    const status = task.error_code === undefined ? task.state : `${task.state} (${task.error_code})`
    return element("tr", { "data-task": task.task_id }, [
      element("th", { scope: "row" }, [element("code", { text: task.task_id.slice(0, 8), title: task.task_id })]),
      element("td", { text: task.model_ref }),
      element("td", { text: task.pool_id ?? "—" }),
      element("td", { class: `status-${task.state}`, text: status }),
      element("td", { class: "num", text: ttft }),
      element("td", { class: "num", text: String(task.tokens_out) }),
      element("td", { class: "num", text: rate })
    ])
  })
  $("tasks").replaceChildren(
    ...(rows.length > 0
      ? rows
      : [element("tr", {}, [element("td", { colspan: "7", class: "empty", text: "No tasks yet." })])])
  )
}

// ---- start -------------------------------------------------------------------------------------

const start = async () => {
  $("token-form").addEventListener("submit", onTokenSubmit)
  renderQueues()
  renderTasks()
  const config = await fetch("/ui/config.json", { cache: "no-store" }).then((r) => r.json())
  if (config.token_required && token() === "") {
    connection("Waiting for a token", "down")
    askToken()
    return
  }
  startStreams()
}

start().catch((error) =>
  connection(`Failed to start: ${error instanceof Error ? error.message : String(error)}`, "down")
)
