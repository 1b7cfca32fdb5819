/**
 * The Kubernetes base in deploy/kubernetes: every manifest matches the Kubernetes API schemas, the
 * pieces fit together (selectors, ports, secrets, volumes, env), each ConfigMap decodes with its
 * daemon's own configuration schema, and the probes hit routes the daemons serve — pool-managerd
 * started as a real process with the DaemonSet's arguments.
 */
import { NodeContext } from "@effect/platform-node"
import * as HttpApi from "@effect/platform/HttpApi"
import { describe, expect, it } from "@effect/vitest"
import { ConfigFile, SpawnDaemon } from "@llama-orch/daemon-kit"
import { Config as PoolManagerdConfig } from "@llama-orch/pool-managerd"
import { ConfigProvider, Duration, Effect, Layer, Option, Redacted } from "effect"
import { DaemonSet, Deployment } from "kubernetes-models/apps/v1"
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1"
import { PodDisruptionBudget } from "kubernetes-models/policy/v1"
import type { IIoK8sApiCoreV1Container, IIoK8sApiCoreV1PodSpec } from "kubernetes-models/v1"
import { ConfigMap, Secret, Service } from "kubernetes-models/v1"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Yaml from "yaml"
import { OrchestratorApi } from "../../apps/orchestratord/src/Api.js"
import * as OrchestratordConfig from "../../apps/orchestratord/src/Config.js"
import { find, kubernetesDir, readKustomization, readManifests, selects, validate } from "./kubernetes.js"

const manifests = readManifests()
const { namespace } = readKustomization()
const poolManagerd = find(manifests, DaemonSet, "pool-managerd")
const orchestratord = find(manifests, Deployment, "orchestratord")
const secret = find(manifests, Secret, "llama-orch-tokens")

const podSpec = (spec: IIoK8sApiCoreV1PodSpec | undefined): IIoK8sApiCoreV1PodSpec => {
  if (spec === undefined) throw new Error("no pod spec")
  return spec
}
const container = (spec: IIoK8sApiCoreV1PodSpec): IIoK8sApiCoreV1Container => {
  const [first, ...rest] = spec.containers
  if (first === undefined || rest.length > 0) throw new Error("expected one container")
  return first
}
const workloads = [
  { name: "pool-managerd", workload: poolManagerd, pod: podSpec(poolManagerd.spec?.template.spec) },
  { name: "orchestratord", workload: orchestratord, pod: podSpec(orchestratord.spec?.template.spec) }
] as const
const poolManagerdPod = podSpec(poolManagerd.spec?.template.spec)
const poolManagerdContainer = container(poolManagerdPod)
const orchestratordContainer = container(podSpec(orchestratord.spec?.template.spec))

/** The ConfigMap file a container reads with `--config FILE`, found through its volume mounts. */
const configOf = (pod: IIoK8sApiCoreV1PodSpec, c: IIoK8sApiCoreV1Container): { text: string; file: string } => {
  const args = c.args ?? []
  const file = args[args.indexOf("--config") + 1]
  if (file === undefined || !args.includes("--config")) throw new Error(`${c.name}: no --config`)
  const mount = (c.volumeMounts ?? []).find((m) => path.dirname(file) === m.mountPath)
  const volume = pod.volumes?.find((v) => v.name === mount?.name)
  const configMapName = volume?.configMap?.name
  if (configMapName === undefined) throw new Error(`${c.name}: ${file} is not on a ConfigMap volume`)
  const text = find(manifests, ConfigMap, configMapName).data?.[path.basename(file)]
  if (text === undefined) throw new Error(`${configMapName} has no key ${path.basename(file)}`)
  return { text, file }
}

/** The container's environment as the daemon sees it, the Secret's values replaced by test tokens. */
const containerEnv = (c: IIoK8sApiCoreV1Container): Map<string, string> =>
  new Map((c.env ?? []).map((e) => {
    if (e.valueFrom?.secretKeyRef !== undefined) return [e.name, `test-${e.valueFrom.secretKeyRef.key}`]
    if (e.valueFrom?.fieldRef?.fieldPath === "status.podIP") return [e.name, "10.42.0.7"]
    return [e.name, e.value ?? ""]
  }))

/** `$(NAME)` in arguments, as the kubelet expands them from the container's env. */
const expandArgs = (c: IIoK8sApiCoreV1Container, env: Map<string, string>): ReadonlyArray<string> =>
  (c.args ?? []).map((arg) =>
    arg.replace(/\$\((\w+)\)/g, (_, name: string) => {
      const value = env.get(name)
      if (value === undefined) throw new Error(`${c.name}: $(${name}) is not in the container's env`)
      return value
    })
  )

const withEnv = (env: Map<string, string>) =>
  Effect.provide(Layer.merge(NodeContext.layer, Layer.setConfigProvider(ConfigProvider.fromMap(env))))

const poolManagerdSettings = Effect.gen(function*() {
  const env = containerEnv(poolManagerdContainer)
  const args = expandArgs(poolManagerdContainer, env)
  const { file, text } = configOf(poolManagerdPod, poolManagerdContainer)
  const decoded = yield* ConfigFile.decodeConfig(PoolManagerdConfig.PoolManagerdConfig, Yaml.parse(text), file)
  const flag = (name: string) => Option.fromNullable(args.includes(name) ? args[args.indexOf(name) + 1] : undefined)
  const settings = yield* PoolManagerdConfig.resolve(
    decoded,
    {
      host: flag("--host"),
      port: Option.none(),
      stateDir: flag("--state-dir"),
      engineHost: flag("--engine-host")
    },
    file,
    "0.0.0"
  ).pipe(withEnv(env))
  return { decoded, settings }
})

describe("deploy/kubernetes", () => {
  it("lists every manifest file, and each matches the Kubernetes API schema of its kind", () => {
    const files = fs.readdirSync(kubernetesDir).filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml")
    expect([...readKustomization().resources].sort()).toEqual(files.sort())
    expect(manifests.length).toBe(files.length)
    for (const manifest of manifests) expect(() => validate(manifest), manifest.file).not.toThrow()
  })

  it("the schema check catches a broken manifest", () => {
    const broken = structuredClone(poolManagerd)
    const port = broken.spec?.template.spec?.containers[0]?.ports?.[0]
    if (port === undefined) throw new Error("no port")
    Object.assign(port, { containerPort: "9200" })
    expect(() => validate({ file: "broken", doc: broken })).toThrow(/containerPort must be integer/)
    expect(() => validate({ file: "broken", doc: { apiVersion: "apps/v1", kind: "StatefulSet" } })).toThrow(
      /no schema for apps\/v1 StatefulSet/
    )
  })

  it("selectors match the pods' labels, and Services, probes and policies name ports the pods open", () => {
    for (const { name, pod, workload } of workloads) {
      const labels = workload.spec?.template.metadata?.labels
      expect(selects(workload.spec?.selector.matchLabels, labels), name).toBe(true)
      const service = find(manifests, Service, name)
      expect(selects(service.spec?.selector, labels), `${name} Service`).toBe(true)
      const ports = container(pod).ports ?? []
      for (const servicePort of service.spec?.ports ?? []) {
        const target = ports.find((p) => p.name === servicePort.targetPort)
        expect(target?.containerPort, `${name} Service port ${servicePort.name}`).toBe(servicePort.port)
      }
      const c = container(pod)
      for (const probe of [c.livenessProbe, c.readinessProbe]) {
        expect(ports.map((p) => p.name)).toContain(probe?.httpGet?.port)
      }
      const policy = find(manifests, NetworkPolicy, name)
      expect(selects(policy.spec?.podSelector?.matchLabels, labels), `${name} NetworkPolicy`).toBe(true)
    }
    expect(find(manifests, Service, "pool-managerd").spec?.clusterIP).toBe("None")
    const pdb = find(manifests, PodDisruptionBudget, "pool-managerd")
    expect(selects(pdb.spec?.selector?.matchLabels, poolManagerd.spec?.template.metadata?.labels)).toBe(true)
    // only orchestratord's pods reach pool-managerd
    const ingress = find(manifests, NetworkPolicy, "pool-managerd").spec?.ingress ?? []
    expect(ingress.flatMap((rule) => rule.from ?? []).length).toBeGreaterThan(0)
    for (const peer of ingress.flatMap((rule) => rule.from ?? [])) {
      expect(peer.ipBlock).toBeUndefined()
      expect(selects(peer.podSelector?.matchLabels, orchestratord.spec?.template.metadata?.labels)).toBe(true)
    }
  })

  it.effect("pool-managerd's ConfigMap decodes with its config schema; the policy opens its RPC and engine ports", () =>
    Effect.gen(function*() {
      const { decoded, settings } = yield* poolManagerdSettings
      expect(Option.map(settings.token, Redacted.value)).toEqual(Option.some("test-POOL_MANAGERD_TOKEN"))
      // the engines bind to the pod IP from the downward API, not to loopback
      expect(settings.manager.host).toBe("10.42.0.7")
      expect(decoded.engineHost).toBe("127.0.0.1")
      expect(settings.manager.modelDir).toBe(
        poolManagerdContainer.volumeMounts?.find((m) => m.name === "models" && m.readOnly === true)?.mountPath
      )
      expect(poolManagerdContainer.ports?.find((p) => p.name === "rpc")?.containerPort).toBe(settings.port)
      const allowed = (find(manifests, NetworkPolicy, "pool-managerd").spec?.ingress ?? []).flatMap((r) =>
        r.ports ?? []
      )
      const opens = (port: number) =>
        allowed.some((p) => typeof p.port === "number" && p.port <= port && port <= (p.endPort ?? p.port))
      expect(opens(settings.port)).toBe(true)
      expect(settings.manager.pools.length).toBeGreaterThan(0)
      for (const pool of settings.manager.pools) {
        expect(pool.port, `pool ${pool.id} needs a fixed port for the NetworkPolicy`).toBeDefined()
        expect(opens(pool.port ?? -1), `pool ${pool.id}`).toBe(true)
      }
      // SIGTERM drains, then engines get their grace: all of it before the kubelet's SIGKILL
      const graceMs = (poolManagerdPod.terminationGracePeriodSeconds ?? 30) * 1000
      expect(settings.manager.shutdownDeadlineMs + settings.manager.stopGraceMs).toBeLessThan(graceMs)
    }))

  it.effect("orchestratord's ConfigMap decodes with its config schema and discovers the headless Service", () =>
    Effect.gen(function*() {
      const pod = podSpec(orchestratord.spec?.template.spec)
      const { file, text } = configOf(pod, orchestratordContainer)
      const decoded = yield* ConfigFile.decodeConfig(OrchestratordConfig.ConfigFile, Yaml.parse(text), file)
      const settings = yield* OrchestratordConfig.resolve(decoded, { host: Option.none(), port: Option.none() }, file)
        .pipe(withEnv(containerEnv(orchestratordContainer)))
      expect(Option.map(settings.token, Redacted.value)).toEqual(Option.some("test-ORCHESTRATORD_TOKEN"))
      expect(orchestratordContainer.ports?.find((p) => p.name === "http")?.containerPort).toBe(settings.port)
      if (settings.pools._tag !== "Cluster") throw new Error(`expected cluster mode, got ${settings.pools._tag}`)
      const discovery = settings.pools.options.discovery
      const service = find(manifests, Service, "pool-managerd")
      expect(discovery?.dns).toBe(`${service.metadata?.name}.${namespace}.svc.cluster.local`)
      expect(discovery?.port).toBe(service.spec?.ports?.[0]?.port)
      expect(Option.map(Option.fromNullable(discovery?.token), Redacted.value)).toEqual(
        Option.some("test-POOL_MANAGERD_TOKEN")
      )
      // a key typo is an error, not a silently ignored setting
      const typo = yield* Effect.flip(
        ConfigFile.decodeConfig(OrchestratordConfig.ConfigFile, { ...Yaml.parse(text), discovry: {} }, file)
      )
      expect(typo.message).toContain("discovry")
    }))

  it("env variables are ones the daemons or their engines read, from keys the Secret has", () => {
    // read by the daemons' token resolution (orchestratord's defaults name both)
    const tokens = [OrchestratordConfig.defaults.tokenEnv, OrchestratordConfig.defaults.poolManagerTokenEnv]
    // Node itself, and what engines inherit (docs/SECURITY.md: the engines' clean environment)
    const runtime = ["NODE_ENV", "HOME", "XDG_CACHE_HOME", "HF_HOME", "TMPDIR"]
    const secretKeys = Object.keys(secret.stringData ?? secret.data ?? {})
    for (const { pod } of workloads) {
      const c = container(pod)
      for (const e of c.env ?? []) {
        const inArgs = (c.args ?? []).some((arg) => arg.includes(`$(${e.name})`))
        expect([...tokens, ...runtime].includes(e.name) || inArgs, `${c.name}: ${e.name}`).toBe(true)
        const ref = e.valueFrom?.secretKeyRef
        if (ref !== undefined) {
          expect(ref.name).toBe(secret.metadata?.name)
          expect(secretKeys).toContain(ref.key)
        }
      }
      expect(() => expandArgs(c, containerEnv(c))).not.toThrow()
    }
  })

  it("orchestratord's probes are routes of its HTTP API", () => {
    const routes: Array<string> = []
    HttpApi.reflect(OrchestratorApi, {
      onGroup: () => undefined,
      onEndpoint: ({ endpoint }) => {
        if (endpoint.method === "GET") routes.push(endpoint.path)
      }
    })
    for (const probe of [orchestratordContainer.livenessProbe, orchestratordContainer.readinessProbe]) {
      expect(routes).toContain(probe?.httpGet?.path)
    }
  })

  it.scopedLive(
    "pool-managerd started with the DaemonSet's arguments answers its probes",
    () =>
      Effect.gen(function*() {
        const dir = fs.mkdtempSync(path.join(fs.realpathSync("/tmp"), "pool-managerd-k8s-"))
        yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
        const env = new Map([...containerEnv(poolManagerdContainer), ["POD_IP", "127.0.0.1"]])
        // the pod's arguments, with the state directory moved here, no pools (no engine binary
        // here) and a free port
        const args = [...expandArgs(poolManagerdContainer, env)]
        args.splice(args.indexOf("--config"), 2)
        args[args.indexOf("--state-dir") + 1] = path.join(dir, "state")
        const daemon = yield* SpawnDaemon.spawnDaemon({
          entry: new URL("../../apps/pool-managerd/src/bin.ts", import.meta.url).pathname,
          args: [...args, "--port", "0"],
          env: { POOL_MANAGERD_TOKEN: "probe-token" }
        })
        for (const probe of [poolManagerdContainer.livenessProbe, poolManagerdContainer.readinessProbe]) {
          const status = yield* Effect.promise(() => fetch(`${daemon.url}${probe?.httpGet?.path ?? ""}`)).pipe(
            Effect.map((response) => response.status),
            Effect.timeout(Duration.seconds(10))
          )
          expect(status, probe?.httpGet?.path).toBe(200)
        }
      }).pipe(Effect.provide(NodeContext.layer)),
    { timeout: 60_000 }
  )
})
