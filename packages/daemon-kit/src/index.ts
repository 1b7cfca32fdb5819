/**
 * @llama-orch/daemon-kit: the plumbing the llama-orch daemons share — YAML configuration decoded
 * with Schema, secrets, command-line options, bind safety, serving an `HttpLayerRouter` app with a
 * listening line and graceful shutdown, JSON-lines logs, and test helpers that run a daemon as a
 * real process and lint its metrics with `promtool`.
 *
 * Prometheus metrics are a separate entry point, `@llama-orch/daemon-kit/PrometheusMetrics`: it
 * needs the optional peer dependencies `@effect/opentelemetry` and
 * `@opentelemetry/exporter-prometheus`, which nothing else in the package loads.
 *
 * @module @llama-orch/daemon-kit
 * @since 0.1.0
 */

/** Bind safety: loopback-only unless a token is configured (`isLoopbackHost`, `ensureBindAllowed`, `BindRefused`). */
export * as BindSafety from "./BindSafety.js"

/** Shared command-line options (`--config`, `--host`, `--port`, `--log-level`), the flags-override-file rule and the conventions of every executable. */
export * as CommandLine from "./CommandLine.js"

/** YAML configuration files decoded with a Schema; `ConfigError` names the file and every bad field. */
export * as ConfigFile from "./ConfigFile.js"

/** Running a daemon program: JSON logs, graceful SIGTERM/SIGINT, exit codes 0/1/2. */
export * as DaemonMain from "./DaemonMain.js"

/** JSON-lines logging on stderr (`timestamp`, `level`, `message` + annotations). */
export * as Logging from "./Logging.js"

/** How a program's end is reported: exit codes 0/1/2, start-up refusals as one plain line, no colour off a terminal. */
export * as ProgramExit from "./ProgramExit.js"

/** Test helper: whether a process is alive, its children, waiting until processes are gone or a check holds. */
export * as Processes from "./Processes.js"

/** Test helper: `promtool check metrics` on an exposition, and its metric families for assertions. */
export * as Promtool from "./Promtool.js"

/** Refusing browser-driven requests: the `Host` allow-list, `Origin` checks, body media types and opt-in CORS. */
export * as RequestGuard from "./RequestGuard.js"

/** Secrets from the environment, `*_FILE` paths or the configuration, held as `Redacted`. */
export * as Secret from "./Secret.js"

/** The keys every daemon's file shares (`host`, `port`, `token`, `token_file`, `log_level`, `allowed_hosts`, `allowed_origins`, `max_body_bytes`) as Schema fields. */
export * as ServerConfig from "./ServerConfig.js"

/** Serving an `HttpLayerRouter` app on Node with the `listening on http://HOST:PORT` line. */
export * as Serve from "./Serve.js"

/** The signal long-lived responses end on when the daemon shuts down. */
export * as ShutdownSignal from "./ShutdownSignal.js"

/** A TypeScript entry point bundled once with esbuild, to run with plain Node (cached while its sources are unchanged). */
export * as SourceBundle from "./SourceBundle.js"

/** Test helper: run a daemon entry point as a real process and wait for its listening line. */
export * as SpawnDaemon from "./SpawnDaemon.js"
