/**
 * The terminal of the live views: the alternate screen (what was on the terminal comes back when
 * the view ends) and the keys that end a view (`q`, or Ctrl-C, which raw mode delivers as a key).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

/**
 * Waits until `q`, `Q` or Ctrl-C is pressed on stdin, in raw mode, restored when the scope closes.
 * When stdin is not a terminal it never completes (the view ends with the process's signal).
 *
 * @since 0.1.0
 */
export const quitKey: Effect.Effect<void, never, Scope.Scope> = Effect.suspend(() => {
  const stdin = process.stdin
  if (stdin.isTTY !== true) return Effect.never
  return Effect.acquireRelease(
    Effect.sync(() => {
      stdin.setRawMode(true)
      stdin.resume()
    }),
    () =>
      Effect.sync(() => {
        stdin.setRawMode(false)
        stdin.pause()
      })
  ).pipe(
    Effect.zipRight(Effect.async<void>((resume) => {
      const onData = (data: Buffer) => {
        if (data.includes(0x71) || data.includes(0x51) || data.includes(0x03)) resume(Effect.void)
      }
      stdin.on("data", onData)
      return Effect.sync(() => stdin.off("data", onData))
    }))
  )
})

/**
 * Shows the alternate screen without a cursor until the scope closes (when stdout is a terminal).
 *
 * @since 0.1.0
 */
export const fullScreen: Effect.Effect<void, never, Scope.Scope> = Effect.suspend(() =>
  process.stdout.isTTY !== true ? Effect.void : Effect.acquireRelease(
    Effect.sync(() => process.stdout.write("\x1b[?1049h\x1b[?25l")),
    () => Effect.sync(() => process.stdout.write("\x1b[?25h\x1b[?1049l"))
  )
)

/**
 * Replaces the whole screen with `text`, cut to the terminal's size.
 *
 * @since 0.1.0
 */
export const draw = (text: string): Effect.Effect<void> =>
  Effect.sync(() => {
    const rows = process.stdout.rows ?? 24
    const columns = process.stdout.columns ?? 80
    const lines = text.split("\n").slice(0, rows).map((l) => l.slice(0, columns))
    process.stdout.write(`\x1b[H\x1b[2J${lines.join("\r\n")}`)
  })
