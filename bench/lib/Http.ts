/** HTTP helpers for benchmarks: wait for a daemon to be ready, read an SSE body. */

/** Polls `url` (every 100 ms, 2 min at most) until it answers 200. */
export const waitReady = async (url: string): Promise<void> => {
  for (let i = 0; i < 1200; i++) {
    const ok = await fetch(url).then((r) => r.status === 200, () => false)
    if (ok) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`${url} never became ready`)
}

/** Reads an SSE body, calling `onData` for every `data:` line; resolves when the body ends. */
export const readData = async (response: Response, onData: (data: string) => void): Promise<void> => {
  const body = response.body
  if (body === null) return
  const reader = body.getReader()
  const decoder = new TextDecoder()
  let buffer = ""
  for (;;) {
    const { done, value } = await reader.read()
    if (done) return
    buffer += decoder.decode(value, { stream: true })
    let nl = buffer.indexOf("\n")
    while (nl !== -1) {
      const line = buffer.slice(0, nl)
      buffer = buffer.slice(nl + 1)
      if (line.startsWith("data:")) onData(line.slice(5).trim())
      nl = buffer.indexOf("\n")
    }
  }
}
