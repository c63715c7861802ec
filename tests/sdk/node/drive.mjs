// Microsoft's Node SDK (azure-devops-node-api) against `adoscale emulator`: every call prints one JSON line
// {"step": ..., ...} on stdout; tests/sdk/test_node_sdk.py reads them. Any failure exits non-zero with the error.
// Usage: node drive.mjs ORG_URL PAT POOL PROJECT
import * as azdev from "azure-devops-node-api";

const [orgUrl, pat, poolName, project] = process.argv.slice(2);
const say = (step, data) => console.log(JSON.stringify({ step, ...data }));

const connection = new azdev.WebApi(orgUrl, azdev.getPersonalAccessTokenHandler(pat));
// Discovery: the Location area's resource areas, then OPTIONS on the task-agent area.
const areas = await (await connection.getLocationsApi()).getResourceAreas();
say("discover", { areas: areas.map((a) => a.name).sort() });
const agents = await connection.getTaskAgentApi();

const pools = await agents.getAgentPools(poolName);
const poolId = pools[0].id;
say("pools", { names: pools.map((p) => p.name), id: poolId });

const added = await agents.addAgent(
  { name: "node-agent", version: "4.258.1", systemCapabilities: { "Agent.OS": "Linux" }, userCapabilities: { docker: "" } },
  poolId,
);
say("add", { id: added.id, status: added.status, version: added.version, user: added.userCapabilities });
const found = await agents.getAgents(poolId, "node-agent", true);
say("find", { names: found.map((a) => a.name), system: found[0].systemCapabilities });
const disabled = await agents.updateAgent({ id: added.id, enabled: false }, poolId, added.id);
say("disable", { enabled: disabled.enabled });

const requests = await agents.getAgentRequests(poolId, 100);
say("requests", { count: requests.length, demands: requests.map((r) => r.demands) });
const usage = await agents.getResourceUsage("Private", false, true);
say("usage", { total: usage.resourceLimit.totalCount, used: usage.usedCount });

const environment = await agents.addEnvironment({ name: "node-env", description: "from node" }, project);
const environments = await agents.getEnvironments(project, "node-env");
say("environment", { id: environment.id, found: environments.map((e) => e.id) });

await agents.deleteAgent(poolId, added.id);
const after = await agents.getAgents(poolId, "node-agent");
say("delete", { left: after.length });
