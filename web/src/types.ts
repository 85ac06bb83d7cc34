/**
 * Admin API shapes as the console reads them (snake_case, as on the wire). Derived from the server's
 * own types through `Wire<T>`, so the console cannot drift from what the API sends. Type-only
 * imports: esbuild drops them, nothing of the server is bundled.
 */
import type { AccountHealthView, CooldownView, GatewayReachability } from '../../src/control/account-health-view.js';
import type { Wire } from '../../src/control/admin-wire.js';
import type { AccountView, GroupView, InstanceView, JobView, KeyRoutingInput, KeyView, ModelAliasView } from '../../src/control/control-api.js';
import type { UsageReport as ServerUsageReport } from '../../src/control/usage-types.js';
import type { ActivityOverview, OverviewMinute as ServerOverviewMinute } from '../../src/observe/activity-overview.js';
import type { ImageLogEvent } from '../../src/observe/image-log-event.js';
import type { Settings as ServerSettings } from '../../src/store/types.js';

export type Routing = KeyRoutingInput;
export type Key = Wire<KeyView>;
export type KeyUsage = Key['usage'];
export type Account = Wire<AccountView>;
export type Cooldown = Wire<CooldownView>;
export type AccountHealth = Wire<AccountHealthView>;
export type Group = Wire<GroupView>;
export type Settings = Wire<ServerSettings>;
export type ModelAlias = Wire<ModelAliasView>;
export type Job = Wire<JobView>;
export type Instance = Wire<InstanceView>;
/** Which data plane answered a read (Activity, Overview, account health). */
export type GatewayAnswer = Wire<GatewayReachability>;
/** What Activity and Overview carry beside their data: how many data planes were asked, and which answered. */
export type Sources = { sources: number; gateways: GatewayAnswer[] };
export type LogEvent = ImageLogEvent;
export type OverviewMinute = Wire<ServerOverviewMinute>;
export type Overview = Wire<ActivityOverview>;
/** A usage report of the persistent rollups (`GET /admin/api/usage`), and one of its rows. */
export type UsageReport = Wire<ServerUsageReport>;
export type UsageRow = UsageReport['rows'][number];
