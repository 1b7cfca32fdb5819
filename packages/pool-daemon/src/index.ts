/**
 * @llama-orch/pool-daemon: what a daemon serving llama-orch pools shares — the engines and pools of
 * its configuration file decoded onto the embedded manager's options, `GET /health` of a pool
 * manager, and the Prometheus pool metrics. pool-managerd and orchestratord (embedded mode) are
 * built from it.
 *
 * @module @llama-orch/pool-daemon
 * @since 0.1.0
 */

/** The `engines`, `pools` and manager keys of a config file as Schema fields onto `EmbeddedOptions`; reference checks. */
export * as PoolsConfig from "./PoolsConfig.js"

/** `GET /health` of a pool manager: version, uptime and each pool's state. */
export * as HealthRoute from "./HealthRoute.js"

/** `GET /metrics` with the pool gauges, the restart counter and the preload histogram. */
export * as PoolMetrics from "./PoolMetrics.js"

/** What a configuration reload changes: one step per pool and the settings that need a restart (pure). */
export * as ConfigPlan from "./ConfigPlan.js"

/** Configuration reload on `SIGHUP` and on demand: plan, apply one pool at a time, report, count. */
export * as ConfigReload from "./ConfigReload.js"
