/** Groups: named ordered sets of accounts that keys can route to. */
import { useCallback, useState } from 'preact/hooks';
import { api, describeError } from '../api.js';
import type { Group } from '../types.js';
import { ConfirmButton, ErrorNote, Field, FormActions, Section, useLoad } from '../ui.js';

const splitNames = (raw: string): string[] =>
  raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

function GroupForm({
  initial,
  submitLabel,
  onSubmit,
  onCancel,
}: {
  initial?: Group;
  submitLabel: string;
  onSubmit: (body: { name: string; accounts: string[] }) => Promise<void>;
  onCancel?: () => void;
}) {
  const [name, setName] = useState(initial?.name ?? '');
  const [accounts, setAccounts] = useState(initial?.accounts.join(', ') ?? '');
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    try {
      await onSubmit({ name: name.trim(), accounts: splitNames(accounts) });
      setError(null);
      if (!initial) {
        setName('');
        setAccounts('');
      }
    } catch (err) {
      setError(describeError(err));
    }
  };
  return (
    <form class="form-grid" onSubmit={submit} aria-label={initial ? `Edit group ${initial.name}` : 'Create group'}>
      <Field label="Name">
        <input name="name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </Field>
      <Field label="Accounts" hint="names, comma-separated, in order">
        <input name="accounts" value={accounts} onInput={(e) => setAccounts(e.currentTarget.value)} />
      </Field>
      <ErrorNote message={error} />
      <FormActions submitLabel={submitLabel} onCancel={onCancel} />
    </form>
  );
}

function GroupRow({ group, onChanged }: { group: Group; onChanged: () => Promise<void> }) {
  const [editing, setEditing] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const path = `/groups/${encodeURIComponent(group.id)}`;
  const remove = async () => {
    try {
      await api.delete(path);
      await onChanged();
    } catch (err) {
      setError(describeError(err));
    }
  };
  return (
    <article class="item" aria-label={`Group ${group.name}`}>
      <div class="item-head">
        <h3>{group.name}</h3>
      </div>
      <p>{group.accounts.length === 0 ? 'No accounts.' : group.accounts.join(' → ')}</p>
      <ErrorNote message={error} />
      {editing ? (
        <GroupForm
          initial={group}
          submitLabel="Save group"
          onCancel={() => setEditing(false)}
          onSubmit={async (body) => {
            await api.patch(path, body);
            setEditing(false);
            await onChanged();
          }}
        />
      ) : (
        <div class="actions">
          <button type="button" onClick={() => setEditing(true)}>
            Edit
          </button>
          <ConfirmButton label="Delete" question={`Delete group ${group.name}?`} onConfirm={remove} />
        </div>
      )}
    </article>
  );
}

/** The Groups page. */
export function GroupsPage() {
  const load = useCallback(async () => (await api.get<{ data: Group[] }>('/groups')).data, []);
  const groups = useLoad(load);
  const create = async (body: { name: string; accounts: string[] }) => {
    await api.post('/groups', body);
    await groups.reload();
  };
  return (
    <>
      <h1>Groups</h1>
      <Section title="New group">
        <GroupForm submitLabel="Create group" onSubmit={create} />
      </Section>
      <ErrorNote message={groups.error} />
      <div class="list">
        {groups.data?.length === 0 ? <p>No groups yet.</p> : null}
        {groups.data?.map((g) => (
          <GroupRow key={g.id} group={g} onChanged={groups.reload} />
        ))}
      </div>
    </>
  );
}
