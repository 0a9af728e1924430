-- agent-ltm for Supabase, SQL version 1.
--
-- Run this once in your project (SQL editor, `psql`, or a migration): `npx agent-ltm supabase-sql`
-- prints it. Running it again is harmless: every statement is idempotent, and a later version of
-- this file upgrades what an earlier one created.
--
-- What it creates:
--   public.agent_ltm_memories     one row per memory, owned by the signed-in user (owner = auth.uid())
--   public.agent_ltm_namespaces   per-user, per-namespace document counts and lengths for BM25
--   public.agent_ltm_*()          the functions the SDK calls, one HTTP request per operation.
--                                 SECURITY INVOKER: they run as the caller, so row-level security applies
--   agent_ltm.*                   helpers, in a schema the Data API does not expose
--
-- Who sees what: a signed-in user (role `authenticated`) reads and writes only rows whose owner is
-- their auth.uid(); the anon key alone sees nothing (no privileges, and no policy for `anon`); the
-- service_role key bypasses row-level security, and the SDK's functions then act as one more owner,
-- the nil UUID, so a server-side agent has memories of its own and never mixes them with a user's.

create schema if not exists agent_ltm;

-- The owner the SDK's functions read and write as.
create or replace function agent_ltm.owner() returns uuid
language sql stable set search_path = '' as $$
  select coalesce(auth.uid(), '00000000-0000-0000-0000-000000000000'::uuid)
$$;

-- The search index of a memory: its terms (the SDK's tokeniser output, {term: frequency}) as
-- lexemes, taken verbatim (no parser, no stemming: the SDK already tokenised). NULL when the
-- lexemes would pass PostgreSQL's 1 MB tsvector limit: such a memory is still found, by its terms.
create or replace function agent_ltm.lexemes(terms jsonb) returns tsvector
language sql immutable parallel safe set search_path = '' as $$
  select case when coalesce(sum(octet_length(t)), 0) > 1000000 then null
              else array_to_tsvector(coalesce(array_agg(t), '{}'::text[])) end
  from jsonb_object_keys(terms) as t
$$;

-- One SDK term as a tsquery: the lexeme quoted (so any text is one lexeme), `:*` for a prefix.
create or replace function agent_ltm.term_query(term text, prefix boolean) returns tsquery
language sql immutable parallel safe set search_path = '' as $$
  select ('''' || replace(replace(term, '\', '\\'), '''', '''''') || '''' || case when prefix then ':*' else '' end)::tsquery
$$;

-- A metadata filter, as src/core/filter.ts parses it (a JSON array of conditions {"path": [...],
-- "op": "$eq", "value": v}, {"op": "$in", "values": [...]}, {"op": "$exists", "exists": true}),
-- compiled to one SQL predicate over m.metadata. The predicate holds no text of the filter: paths
-- and values are read from the filter itself, passed as parameter $<p_param>, by position, so any
-- key or value is safe. Semantics of the SQLite core: a path descends objects only (`->` with a
-- text key is NULL on an array); equality is type-strict (jsonb equality: 1 is not "1" nor true,
-- objects regardless of key order); $ne and $nin also match a missing key; $gt.. compare a number
-- with numbers (as doubles) and a string with strings (byte-wise, as SQLite's BINARY collation).
create or replace function agent_ltm.filter_sql(p_filter jsonb, p_param integer) returns text
language plpgsql immutable parallel safe set search_path = '' as $$
declare
  c jsonb;
  i integer := 0;
  f text;
  v text;
  cmp text;
  parts text[] := '{}';
begin
  for c in select x from jsonb_array_elements(coalesce(p_filter, '[]'::jsonb)) as t(x) loop
    f := format('($%s -> %s)', p_param, i);
    v := 'm.metadata';
    for j in 0 .. coalesce(jsonb_array_length(c -> 'path'), 0) - 1 loop
      v := format('(%s -> (%s -> ''path'' ->> %s))', v, f, j);
    end loop;
    cmp := case c ->> 'op' when '$gt' then '>' when '$gte' then '>=' when '$lt' then '<' when '$lte' then '<=' end;
    parts := parts || case
      when c ->> 'op' = '$eq' then format('coalesce(%s = (%s -> ''value''), false)', v, f)
      when c ->> 'op' = '$ne' then format('not coalesce(%s = (%s -> ''value''), false)', v, f)
      when c ->> 'op' = '$in' then format('coalesce(%s in (select x from jsonb_array_elements(%s -> ''values'') as x), false)', v, f)
      when c ->> 'op' = '$nin' then format('not coalesce(%s in (select x from jsonb_array_elements(%s -> ''values'') as x), false)', v, f)
      when c ->> 'op' = '$exists' then format('((%s is not null) = (%s ->> ''exists'')::boolean)', v, f)
      when cmp is not null and jsonb_typeof(c -> 'value') = 'number' then
        format('coalesce(case when jsonb_typeof(%s) = ''number'' then (%s #>> ''{}'')::double precision %s (%s ->> ''value'')::double precision end, false)', v, v, cmp, f)
      when cmp is not null and jsonb_typeof(c -> 'value') = 'string' then
        format('coalesce(case when jsonb_typeof(%s) = ''string'' then (%s #>> ''{}'') collate "C" %s (%s ->> ''value'') collate "C" end, false)', v, v, cmp, f)
    end;
    if parts[array_length(parts, 1)] is null then
      raise exception 'agent-ltm: unsupported metadata filter condition %', c using errcode = '22023';
    end if;
    i := i + 1;
  end loop;
  return coalesce(nullif(array_to_string(parts, ' and '), ''), 'true');
end $$;

create table if not exists public.agent_ltm_memories (
  id bigint generated always as identity,
  owner uuid not null default agent_ltm.owner(),
  ns text collate "C" not null,
  key text collate "C" not null,
  -- The value's JSON text exactly as stored (jsonb would reorder keys and reformat numbers).
  value text not null,
  -- Metadata as jsonb for filters, and its canonical JSON text, returned as is and compared for dedup.
  metadata jsonb not null,
  metadata_json text not null,
  content_hash text not null,
  -- The SDK's tokens: {term: frequency}, and their count (the BM25 document length).
  terms jsonb not null,
  doc_len integer not null,
  fts tsvector generated always as (agent_ltm.lexemes(terms)) stored,
  -- Milliseconds since the epoch, as the SDK's clock gives them.
  created_at bigint not null,
  updated_at bigint not null,
  expires_at bigint,
  primary key (owner, ns, key),
  unique (id)
);
create index if not exists agent_ltm_memories_fts on public.agent_ltm_memories using gin (fts);
create index if not exists agent_ltm_memories_unindexed on public.agent_ltm_memories (owner, ns) where fts is null;
create index if not exists agent_ltm_memories_recent on public.agent_ltm_memories (owner, ns, updated_at desc, id desc);
create index if not exists agent_ltm_memories_expiry on public.agent_ltm_memories (owner, ns, expires_at) where expires_at is not null;

create table if not exists public.agent_ltm_namespaces (
  owner uuid not null default agent_ltm.owner(),
  ns text collate "C" not null,
  doc_count bigint not null default 0,
  token_count bigint not null default 0,
  primary key (owner, ns)
);

-- BM25 statistics follow every change to the memories, in the same transaction, whoever writes.
create or replace function agent_ltm.count_namespaces() returns trigger
language plpgsql set search_path = '' as $$
begin
  if tg_op in ('DELETE', 'UPDATE') then
    update public.agent_ltm_namespaces set doc_count = doc_count - 1, token_count = token_count - old.doc_len
    where owner = old.owner and ns = old.ns;
  end if;
  if tg_op in ('INSERT', 'UPDATE') then
    insert into public.agent_ltm_namespaces as n (owner, ns, doc_count, token_count) values (new.owner, new.ns, 1, new.doc_len)
    on conflict (owner, ns) do update set doc_count = n.doc_count + 1, token_count = n.token_count + excluded.token_count;
  end if;
  return null;
end $$;
drop trigger if exists agent_ltm_memories_count on public.agent_ltm_memories;
create trigger agent_ltm_memories_count after insert or delete or update of owner, ns, doc_len on public.agent_ltm_memories
  for each row execute function agent_ltm.count_namespaces();

-- Row-level security: a user's rows are theirs alone. No policy names `anon`: the anon key sees nothing.
alter table public.agent_ltm_memories enable row level security;
alter table public.agent_ltm_namespaces enable row level security;
drop policy if exists agent_ltm_memories_select on public.agent_ltm_memories;
drop policy if exists agent_ltm_memories_insert on public.agent_ltm_memories;
drop policy if exists agent_ltm_memories_update on public.agent_ltm_memories;
drop policy if exists agent_ltm_memories_delete on public.agent_ltm_memories;
create policy agent_ltm_memories_select on public.agent_ltm_memories for select to authenticated using (owner = (select auth.uid()));
create policy agent_ltm_memories_insert on public.agent_ltm_memories for insert to authenticated with check (owner = (select auth.uid()));
create policy agent_ltm_memories_update on public.agent_ltm_memories for update to authenticated using (owner = (select auth.uid())) with check (owner = (select auth.uid()));
create policy agent_ltm_memories_delete on public.agent_ltm_memories for delete to authenticated using (owner = (select auth.uid()));
drop policy if exists agent_ltm_namespaces_select on public.agent_ltm_namespaces;
drop policy if exists agent_ltm_namespaces_insert on public.agent_ltm_namespaces;
drop policy if exists agent_ltm_namespaces_update on public.agent_ltm_namespaces;
create policy agent_ltm_namespaces_select on public.agent_ltm_namespaces for select to authenticated using (owner = (select auth.uid()));
create policy agent_ltm_namespaces_insert on public.agent_ltm_namespaces for insert to authenticated with check (owner = (select auth.uid()));
create policy agent_ltm_namespaces_update on public.agent_ltm_namespaces for update to authenticated using (owner = (select auth.uid())) with check (owner = (select auth.uid()));

-- One entry of a write, in order: created, updated or unchanged (an identical live memory: same
-- value hash, same metadata, and no expiry asked for or the same one). An expired row is replaced
-- as if new. Returns {"status", "expires_at"}: the expiry after the write (the old one when unchanged).
create or replace function agent_ltm.put(p_owner uuid, e jsonb, p_now bigint) returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_ns text := e ->> 'namespace';
  v_key text := e ->> 'key';
  v_metadata text := e ->> 'metadata';
  v_hash text := e ->> 'content_hash';
  v_expires bigint := (e ->> 'expires_at')::bigint;
  v_explicit boolean := coalesce((e ->> 'explicit_expiry')::boolean, false);
  prev record;
begin
  loop
    select m.content_hash, m.metadata_json, m.expires_at into prev from public.agent_ltm_memories m
    where m.owner = p_owner and m.ns = v_ns and m.key = v_key for update;
    if not found then
      insert into public.agent_ltm_memories (owner, ns, key, value, metadata, metadata_json, content_hash, terms, doc_len, created_at, updated_at, expires_at)
      values (p_owner, v_ns, v_key, e ->> 'value', v_metadata::jsonb, v_metadata, v_hash, (e ->> 'terms')::jsonb, (e ->> 'length')::integer, p_now, p_now, v_expires)
      on conflict (owner, ns, key) do nothing;
      if found then return jsonb_build_object('status', 'created', 'expires_at', v_expires); end if;
      continue; -- a concurrent writer created it first: decide against its row
    end if;
    if prev.expires_at is not null and prev.expires_at <= p_now then
      update public.agent_ltm_memories set value = e ->> 'value', metadata = v_metadata::jsonb, metadata_json = v_metadata, content_hash = v_hash,
        terms = (e ->> 'terms')::jsonb, doc_len = (e ->> 'length')::integer, created_at = p_now, updated_at = p_now, expires_at = v_expires
      where owner = p_owner and ns = v_ns and key = v_key;
      return jsonb_build_object('status', 'created', 'expires_at', v_expires);
    end if;
    if (not v_explicit or prev.expires_at is not distinct from v_expires) and prev.content_hash = v_hash and prev.metadata_json = v_metadata then
      return jsonb_build_object('status', 'unchanged', 'expires_at', prev.expires_at);
    end if;
    update public.agent_ltm_memories set value = e ->> 'value', metadata = v_metadata::jsonb, metadata_json = v_metadata, content_hash = v_hash,
      terms = (e ->> 'terms')::jsonb, doc_len = (e ->> 'length')::integer, updated_at = p_now, expires_at = v_expires
    where owner = p_owner and ns = v_ns and key = v_key;
    return jsonb_build_object('status', 'updated', 'expires_at', v_expires);
  end loop;
end $$;

-- Removes a memory; true if a live (unexpired) one was removed.
create or replace function agent_ltm.remove(p_owner uuid, p_namespace text, p_key text, p_now bigint) returns boolean
language sql set search_path = '' as $$
  with gone as (
    delete from public.agent_ltm_memories m where m.owner = p_owner and m.ns = p_namespace and m.key = p_key returning m.expires_at
  )
  select coalesce(bool_or(expires_at is null or expires_at > p_now), false) from gone
$$;

-- ---------------------------------------------------------------- the functions the SDK calls

-- The version of this SQL, read when the SDK opens (and so a missing setup is reported clearly).
create or replace function public.agent_ltm_version() returns integer
language sql immutable set search_path = '' as $$ select 1 $$;

-- A batch of writes in one transaction, in order (a later entry for the same key sees the earlier
-- one). An entry is a memory to store ({namespace, key, value, metadata, content_hash, terms,
-- length, expires_at, explicit_expiry}) or {"op": "delete", namespace, key}; an entry's own "now"
-- (a transaction's queued write keeps the time it was made at) overrides p_now. Returns one outcome
-- per entry: {status, expires_at} or {deleted}.
-- p_guards (a transaction's commit): [{namespace, key, version, now}], what the transaction saw of
-- each memory it writes or deletes: the row version (xmin) agent_ltm_read gave, or null for no live
-- memory at `now`. If any changed since, nothing is written: SQLSTATE 40001 (PostgREST: 500).
create or replace function public.agent_ltm_write(p_entries jsonb, p_now bigint, p_guards jsonb default '[]') returns jsonb
language plpgsql volatile security invoker set search_path = '' as $$
declare
  v_owner uuid := agent_ltm.owner();
  e jsonb;
  g jsonb;
  cur record;
  outcomes jsonb[] := '{}';
begin
  for g in select x from jsonb_array_elements(coalesce(p_guards, '[]'::jsonb)) as t(x) loop
    select m.xmin::text as version, m.expires_at into cur from public.agent_ltm_memories m
    where m.owner = v_owner and m.ns = g ->> 'namespace' and m.key = g ->> 'key' for update;
    if (g ->> 'version' is null and found and (cur.expires_at is null or cur.expires_at > (g ->> 'now')::bigint))
       or (g ->> 'version' is not null and (not found or cur.version <> g ->> 'version')) then
      raise exception 'agent-ltm: another writer changed memory % of namespace % after this transaction read it', g ->> 'key', g ->> 'namespace'
        using errcode = '40001', hint = 'nothing was written; run the transaction again';
    end if;
  end loop;
  for e in select x from jsonb_array_elements(p_entries) with ordinality as t(x, i) order by i loop
    if e ->> 'op' = 'delete' then
      outcomes := outcomes || jsonb_build_object('deleted', agent_ltm.remove(v_owner, e ->> 'namespace', e ->> 'key', coalesce((e ->> 'now')::bigint, p_now)));
    else
      outcomes := outcomes || agent_ltm.put(v_owner, e, coalesce((e ->> 'now')::bigint, p_now));
    end if;
  end loop;
  return to_jsonb(outcomes);
end $$;

create or replace function public.agent_ltm_delete(p_namespace text, p_key text, p_now bigint) returns boolean
language sql volatile security invoker set search_path = '' as $$
  select agent_ltm.remove(agent_ltm.owner(), p_namespace, p_key, p_now)
$$;

-- The live memories of a namespace among the keys (a JSON array of strings), with their row
-- version (xmin), which a transaction's commit checks (agent_ltm_write's p_guards).
create or replace function public.agent_ltm_read(p_namespace text, p_keys jsonb, p_now bigint)
returns table (key text, value text, metadata text, content_hash text, created_at bigint, updated_at bigint, expires_at bigint, version text)
language sql stable security invoker set search_path = '' as $$
  select m.key, m.value, m.metadata_json, m.content_hash, m.created_at, m.updated_at, m.expires_at, m.xmin::text
  from public.agent_ltm_memories m
  where m.owner = agent_ltm.owner() and m.ns = p_namespace
    and m.key in (select jsonb_array_elements_text(p_keys))
    and (m.expires_at is null or m.expires_at > p_now)
$$;

-- Ranked search, or a listing newest first when p_terms is empty. p_terms: the SDK's parsed query,
-- [{term, prefix, role}] with role 0 optional, 1 required, 2 excluded. BM25 exactly as SQLite
-- FTS5's bm25() (k1 1.2, b 0.75, idf ln((N - n + 0.5) / (n + 0.5)) floored at 1e-6), positive,
-- with N, n and the average length from this user's namespace; a prefix term sums the frequencies of
-- every term it covers. The metadata filter (p_filter, see filter_sql) and expiry apply before the
-- limit. Ties go to the most recently inserted row.
create or replace function public.agent_ltm_search(p_namespace text, p_terms jsonb, p_filter jsonb, p_limit integer, p_now bigint)
returns table (key text, value text, metadata text, content_hash text, created_at bigint, updated_at bigint, expires_at bigint, score double precision)
language plpgsql stable security invoker set search_path = '' as $$
declare
  v_filter text := agent_ltm.filter_sql(p_filter, 3);
begin
  -- Parameters: $1 namespace, $2 terms, $3 filter, $4 limit, $5 now, $6 owner, $7 required terms.
  if p_terms is null or jsonb_array_length(p_terms) = 0 then
    return query execute format($sql$
      select m.key, m.value, m.metadata_json, m.content_hash, m.created_at, m.updated_at, m.expires_at, 0::double precision
      from public.agent_ltm_memories m
      where m.owner = $6 and m.ns = $1 and (m.expires_at is null or m.expires_at > $5) and %s
      order by m.updated_at desc, m.id desc
      limit $4 $sql$, v_filter)
    using p_namespace, p_terms, p_filter, p_limit, p_now, agent_ltm.owner(), 0;
    return;
  end if;
  return query execute format($sql$
    with st as (
      select coalesce(max(n.doc_count), 0)::double precision as n,
             case when coalesce(max(n.doc_count), 0) > 0 then max(n.token_count)::double precision / max(n.doc_count) else 1.0 end as avgdl
      from public.agent_ltm_namespaces n where n.owner = $6 and n.ns = $1
    ),
    q as materialized (
      select x.i as qi, x.t ->> 'term' as term, coalesce((x.t ->> 'prefix')::boolean, false) as prefix, (x.t ->> 'role')::integer as role,
             agent_ltm.term_query(x.t ->> 'term', coalesce((x.t ->> 'prefix')::boolean, false)) as tq
      from jsonb_array_elements($2) with ordinality as x(t, i)
    ),
    -- Each term's matches: through the GIN index, plus the few rows too large to index.
    matches as materialized (
      select q.qi, m.id, m.doc_len, tf.tf
      from q join public.agent_ltm_memories m on m.owner = $6 and m.ns = $1 and m.fts @@ q.tq
      cross join lateral (select case when not q.prefix then (m.terms ->> q.term)::double precision
        else (select sum(f.value::double precision) from jsonb_each_text(m.terms) as f where starts_with(f.key, q.term)) end as tf) tf
      union all
      select q.qi, m.id, m.doc_len, tf.tf
      from q join public.agent_ltm_memories m on m.owner = $6 and m.ns = $1 and m.fts is null
      cross join lateral (select case when not q.prefix then (m.terms ->> q.term)::double precision
        else (select sum(f.value::double precision) from jsonb_each_text(m.terms) as f where starts_with(f.key, q.term)) end as tf) tf
      where tf.tf > 0
    ),
    t as (
      select q.qi, q.role, ln((st.n - d.df + 0.5) / (d.df + 0.5)) as raw_idf
      from q join (select qi, count(*)::double precision as df from matches group by qi) d on d.qi = q.qi cross join st
    ),
    scored as (
      select h.id,
        sum(case when t.role = 2 then 0
                 else (case when t.raw_idf <= 0 then 1e-6 else t.raw_idf end) * (h.tf * 2.2) / (h.tf + 1.2 * (0.25 + 0.75 * h.doc_len::double precision / st.avgdl)) end) as score
      from matches h join t on t.qi = h.qi cross join st
      group by h.id
      having sum((t.role = 2)::integer) = 0 and sum((t.role <> 2)::integer) > 0 and sum((t.role = 1)::integer) = $7
    )
    -- Best first, memory rows read one by one until the limit has passed the filter.
    select m.key, m.value, m.metadata_json, m.content_hash, m.created_at, m.updated_at, m.expires_at, s.score
    from (select * from scored order by score desc, id desc) s
    cross join lateral (select * from public.agent_ltm_memories m where m.id = s.id and (m.expires_at is null or m.expires_at > $5) and %s) m
    order by s.score desc, s.id desc
    limit $4 $sql$, v_filter)
  using p_namespace, p_terms, p_filter, p_limit, p_now, agent_ltm.owner(),
    (select count(*)::integer from jsonb_array_elements(p_terms) as t where (t ->> 'role')::integer = 1);
end $$;

-- Deletes the namespace's expired memories; returns how many.
create or replace function public.agent_ltm_cleanup(p_namespace text, p_now bigint) returns bigint
language sql volatile security invoker set search_path = '' as $$
  with gone as (
    delete from public.agent_ltm_memories m
    where m.owner = agent_ltm.owner() and m.ns = p_namespace and m.expires_at is not null and m.expires_at <= p_now
    returning 1
  )
  select count(*) from gone
$$;

-- One page of live memories in (namespace, key) order after the cursor; with p_descendants, the
-- namespaces below p_namespace too ('' with descendants is every namespace).
create or replace function public.agent_ltm_page(p_namespace text, p_descendants boolean, p_after_namespace text, p_after_key text, p_limit integer, p_now bigint)
returns table (namespace text, key text, value text, metadata text, content_hash text, created_at bigint, updated_at bigint, expires_at bigint)
language sql stable security invoker set search_path = '' as $$
  select m.ns, m.key, m.value, m.metadata_json, m.content_hash, m.created_at, m.updated_at, m.expires_at
  from public.agent_ltm_memories m
  where m.owner = agent_ltm.owner()
    and (m.ns = p_namespace
         or (p_descendants and (p_namespace = '' or (m.ns > p_namespace || '/' and m.ns < p_namespace || '0'))))
    and (p_after_namespace is null or m.ns > p_after_namespace or (m.ns = p_after_namespace and m.key > p_after_key))
    and (m.expires_at is null or m.expires_at > p_now)
  order by m.ns, m.key
  limit p_limit
$$;

-- Counts for stats(): this owner's namespaces and memories.
create or replace function public.agent_ltm_stats() returns jsonb
language sql stable security invoker set search_path = '' as $$
  select jsonb_build_object('namespaces', count(*), 'memories', coalesce(sum(n.doc_count), 0))
  from public.agent_ltm_namespaces n where n.owner = agent_ltm.owner() and n.doc_count > 0
$$;

-- ---------------------------------------------------------------- privileges

-- Supabase grants new tables and functions to anon by default: take that back, and give signed-in
-- users and the service role exactly what the SDK needs. Row-level security does the rest.
revoke all on table public.agent_ltm_memories, public.agent_ltm_namespaces from public, anon;
grant select, insert, update, delete on table public.agent_ltm_memories, public.agent_ltm_namespaces to authenticated, service_role;
grant usage on schema agent_ltm to anon, authenticated, service_role;
revoke all on all functions in schema agent_ltm from public, anon;
grant execute on all functions in schema agent_ltm to authenticated, service_role;
revoke all on function public.agent_ltm_write(jsonb, bigint, jsonb), public.agent_ltm_delete(text, text, bigint),
  public.agent_ltm_read(text, jsonb, bigint), public.agent_ltm_search(text, jsonb, jsonb, integer, bigint),
  public.agent_ltm_cleanup(text, bigint), public.agent_ltm_page(text, boolean, text, text, integer, bigint),
  public.agent_ltm_stats() from public, anon;
grant execute on function public.agent_ltm_write(jsonb, bigint, jsonb), public.agent_ltm_delete(text, text, bigint),
  public.agent_ltm_read(text, jsonb, bigint), public.agent_ltm_search(text, jsonb, jsonb, integer, bigint),
  public.agent_ltm_cleanup(text, bigint), public.agent_ltm_page(text, boolean, text, text, integer, bigint),
  public.agent_ltm_stats() to authenticated, service_role;
grant execute on function public.agent_ltm_version() to anon, authenticated, service_role;

-- Ask PostgREST to see the new functions now, not at its next schema reload.
notify pgrst, 'reload schema';
