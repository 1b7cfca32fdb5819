/**
 * Incremental decoder of a Server-Sent Events byte stream into the `data` payload of each event
 * (multi-line data joined with "\n"); comments, `event:`, `id:` and `retry:` fields are ignored.
 * Lines end with "\n", "\r\n" or "\r". Synchronous and stateful: one decoder per response, fed
 * whole chunks, so a token costs no stream stage of its own.
 *
 * @internal
 */
export class SseDecoder {
  private readonly text = new TextDecoder()
  private buffer = ""
  private data: Array<string> = []

  /** Feeds bytes; appends to `out` the events they complete. */
  push(bytes: Uint8Array, out: Array<string>): void {
    this.lines(this.buffer + this.text.decode(bytes, { stream: true }), out, false)
  }

  /** The end of the input: a last line without a line break, and a pending event, complete. */
  end(out: Array<string>): void {
    this.lines(this.buffer + this.text.decode(), out, true)
    this.line("", out)
  }

  private lines(text: string, out: Array<string>, final: boolean): void {
    let start = 0
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i)
      if (c !== 10 && c !== 13) continue
      // a "\r" at the end of the input may be the first half of "\r\n"
      if (c === 13 && i + 1 === text.length && !final) break
      this.line(text.slice(start, i), out)
      if (c === 13 && text.charCodeAt(i + 1) === 10) i++
      start = i + 1
    }
    this.buffer = text.slice(start)
    if (final && this.buffer !== "") {
      this.line(this.buffer, out)
      this.buffer = ""
    }
  }

  private line(line: string, out: Array<string>): void {
    if (line === "") {
      if (this.data.length > 0) {
        out.push(this.data.join("\n"))
        this.data = []
      }
    } else if (line.startsWith("data:")) {
      this.data.push(line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5))
    }
  }
}
