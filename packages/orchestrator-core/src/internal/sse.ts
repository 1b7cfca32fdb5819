import * as Option from "effect/Option"
import * as Stream from "effect/Stream"

interface Pending {
  readonly data: ReadonlyArray<string>
}

const empty: Pending = { data: [] }

/**
 * Decodes a byte stream of Server-Sent Events into the `data` payload of each event (multi-line
 * data joined with "\n"); comments, `event:`, `id:` and `retry:` fields are ignored.
 */
export const dataEvents = <E, R>(bytes: Stream.Stream<Uint8Array, E, R>): Stream.Stream<string, E, R> =>
  bytes.pipe(
    Stream.decodeText(),
    Stream.splitLines,
    Stream.concat(Stream.make("")),
    Stream.mapAccum(empty, (pending, line): [Pending, Option.Option<string>] => {
      if (line === "") {
        return pending.data.length === 0 ? [empty, Option.none()] : [empty, Option.some(pending.data.join("\n"))]
      }
      if (line.startsWith("data:")) {
        const value = line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5)
        return [{ data: [...pending.data, value] }, Option.none()]
      }
      return [pending, Option.none()]
    }),
    Stream.filterMap((o) => o)
  )
