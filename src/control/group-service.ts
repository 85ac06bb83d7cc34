import { GatewayError } from '../errors/codes.js';
import { listAccountNames } from '../store/account-repo.js';
import { isDbErrorCode, PG_ERROR_CODES, type Db, type DbQuerier } from '../store/db.js';
import { deleteGroup, findGroup, insertGroup, listGroups, updateGroup } from '../store/group-repo.js';
import { listKeyNamesUsingGroup } from '../store/key-repo.js';
import type { GroupRecord } from '../store/types.js';
import { resolveAccountIds } from './account-refs.js';
import type { ControlApi, GroupView } from './control-api.js';
import { runControlWrite } from './control-write.js';
import { parseInputObject, parseName, parseRefList } from './field-parsers.js';
import { createRecordId } from './record-id.js';

/** Wire names of the group fields (error `param`s). */
export const GROUP_FIELD_PARAMS = { name: 'name', accounts: 'accounts' } as const;

/** Dependencies of the group service. */
export interface GroupServiceDeps {
  db: Db;
  now: () => number;
}

/** Group operations: named, ordered account lists that keys can route to. */
export function createGroupService({ db, now }: GroupServiceDeps): ControlApi['groups'] {
  const mustFind = async (q: DbQuerier, ref: string) => {
    const group = await findGroup(q, ref);
    if (!group) throw new GatewayError('not_found', 'group not found', 'group');
    return group;
  };
  const view = async (group: GroupRecord) => buildGroupView(group, await loadAccountNames(db));
  return {
    async list() {
      const [groups, names] = await Promise.all([listGroups(db), loadAccountNames(db)]);
      return groups.map((group) => buildGroupView(group, names));
    },
    get: async (ref) => view(await mustFind(db, ref)),
    async create(input) {
      const changes = parseGroupChanges(input);
      if (changes.name === undefined) throw new GatewayError('invalid_request', 'name is required', 'name');
      const name = changes.name;
      const group = await runControlWrite(db, { topic: 'groups', noun: 'group', name }, async (tx) => {
        const at = now();
        const accountIds = await resolveAccountIds(tx, changes.accounts ?? [], GROUP_FIELD_PARAMS.accounts);
        const record: GroupRecord = { id: createRecordId('group'), name, accountIds, createdAt: at, updatedAt: at };
        await insertGroup(tx, record);
        return record;
      });
      return view(group);
    },
    async update(ref, input) {
      const changes = parseGroupChanges(input);
      const group = await runControlWrite(db, { topic: 'groups', noun: 'group', ...(changes.name ? { name: changes.name } : {}) }, async (tx) => {
        const current = await mustFind(tx, ref);
        const accountIds = changes.accounts ? await resolveAccountIds(tx, changes.accounts, GROUP_FIELD_PARAMS.accounts) : current.accountIds;
        const next: GroupRecord = { ...current, name: changes.name ?? current.name, accountIds, updatedAt: now() };
        await updateGroup(tx, next);
        return next;
      });
      return view(group);
    },
    async delete(ref) {
      try {
        await runControlWrite(db, { topic: 'groups', noun: 'group' }, async (tx) => {
          const group = await mustFind(tx, ref);
          const users = await listKeyNamesUsingGroup(tx, group.id);
          if (users.length > 0) throw groupInUse(group.name, users);
          await deleteGroup(tx, group.id);
        });
      } catch (err) {
        // A key started routing to the group between our check and the delete.
        if (isDbErrorCode(err, PG_ERROR_CODES.foreignKeyViolation)) throw groupInUse(ref, [], err);
        throw err;
      }
    },
  };
}

function parseGroupChanges(input: unknown): { name?: string; accounts?: string[] } {
  const raw = parseInputObject(input, GROUP_FIELD_PARAMS);
  return {
    ...(raw.name !== undefined ? { name: parseName(raw.name) } : {}),
    ...(raw.accounts !== undefined ? { accounts: parseRefList(raw.accounts, { param: 'accounts', what: 'account', minItems: 0 }) } : {}),
  };
}

function groupInUse(name: string, keyNames: string[], cause?: unknown): GatewayError {
  const users = keyNames.length > 0 ? ` by key ${keyNames.map((n) => `\`${n}\``).join(', ')}` : ' by a key';
  return new GatewayError('conflict', `group \`${name}\` is used${users}; route those keys elsewhere first`, 'group', { cause });
}

async function loadAccountNames(db: DbQuerier): Promise<Map<string, string>> {
  return new Map((await listAccountNames(db)).map((a) => [a.id, a.name]));
}

function buildGroupView(group: GroupRecord, accountNames: Map<string, string>): GroupView {
  return {
    id: group.id,
    name: group.name,
    accounts: group.accountIds.map((id) => accountNames.get(id) ?? id),
    createdAt: group.createdAt,
    updatedAt: group.updatedAt,
  };
}
