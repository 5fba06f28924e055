using Herald.Core.Notifications;
using Microsoft.Data.Sqlite;

namespace Herald.Storage.Sqlite;

/// <summary>The audit trail in SQLite: the single writer serialises appends, so reading the chain's head and writing
/// the next entry cannot interleave.</summary>
internal sealed class SqliteAuditStore(SqliteDatabase db) : IAuditStore
{
    private const string Columns =
        "id, tenant_id, seq, at, actor, key_id, action, resource_type, resource_id, diff, request_id, client_address, prev_hash, hash";

    public Task<AuditEntry> AppendAsync(AuditChange change, CancellationToken ct) => db.WriteAsync(scope => Append(scope, change), ct);

    /// <summary>Appends the request's pending act (<see cref="AuditScope.Pending"/>), if any, in the open write
    /// transaction of <paramref name="scope"/>.</summary>
    /// <param name="createdId">The id of a resource the store itself created, for an act whose id was not known before.</param>
    internal static void AppendPending(WriteScope scope, string? createdId = null)
    {
        if (AuditScope.Pending is { } change)
        {
            Append(scope, createdId is not null && change.ResourceId.Length == 0 ? change with { ResourceId = createdId } : change);
        }
    }

    /// <summary>Appends the request's pending act when <paramref name="changed"/> rows changed; returns the count, so a
    /// write's statement can be wrapped as it is.</summary>
    internal static int Audited(WriteScope scope, int changed)
    {
        if (changed > 0)
        {
            AppendPending(scope);
        }

        return changed;
    }

    internal static AuditEntry Append(WriteScope scope, AuditChange change)
    {
        var chain = SqliteValues.Id(change.TenantId ?? Guid.Empty);
        long seq = 0;
        var prev = AuditHash.Genesis;
        using (var reader = scope.Command("SELECT seq, hash FROM audit_chains WHERE tenant_id = $tenant").Set("$tenant", chain).ExecuteReader())
        {
            if (reader.Read())
            {
                seq = reader.GetInt64(0);
                prev = reader.GetString(1);
            }
        }

        var entry = AuditHash.Next(change, TimeOrderedIds.New(change.At), seq, prev);
        scope.Command(
                $"""
                INSERT INTO audit_entries ({Columns})
                VALUES ($id, $tenant, $seq, $at, $actor, $key, $action, $type, $resource, $diff, $request, $client, $prev, $hash)
                """)
            .Set("$id", SqliteValues.Id(entry.Id))
            .Set("$tenant", chain)
            .Set("$seq", entry.Seq)
            .Set("$at", SqliteValues.Ms(entry.At))
            .Set("$actor", entry.Actor)
            .Set("$key", SqliteValues.Id(entry.KeyId))
            .Set("$action", entry.Action)
            .Set("$type", entry.ResourceType)
            .Set("$resource", entry.ResourceId)
            .Set("$diff", SqliteValues.Text(entry.Diff))
            .Set("$request", SqliteValues.Text(entry.RequestId))
            .Set("$client", SqliteValues.Text(entry.ClientAddress))
            .Set("$prev", entry.PrevHash)
            .Set("$hash", entry.Hash)
            .ExecuteNonQuery();
        scope.Command(
                """
                INSERT INTO audit_chains (tenant_id, seq, hash) VALUES ($tenant, $seq, $hash)
                ON CONFLICT (tenant_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash
                """)
            .Set("$tenant", chain).Set("$seq", entry.Seq).Set("$hash", entry.Hash)
            .ExecuteNonQuery();
        return entry;
    }

    public Task<IReadOnlyList<AuditEntry>> QueryAsync(Guid? tenantId, AuditQuery query, CancellationToken ct) =>
        db.ReadAsync<IReadOnlyList<AuditEntry>>(
            connection =>
            {
                var (type, id) = Postgres.PostgresAuditStore.SplitResource(query.Resource);
                using var command = connection.CreateCommand();
                command.CommandText = $"""
                    SELECT {Columns} FROM audit_entries
                    WHERE tenant_id = $tenant
                      AND ($from IS NULL OR at >= $from)
                      AND ($to IS NULL OR at < $to)
                      AND ($actor IS NULL OR actor = $actor OR key_id = $actor)
                      AND ($type IS NULL OR resource_type = $type)
                      AND ($resource IS NULL OR resource_id = $resource)
                      AND ($action IS NULL OR action = $action OR (substr($action, -1) = '.' AND substr(action, 1, length($action)) = $action))
                      AND ($before IS NULL OR seq < $before)
                    ORDER BY seq DESC LIMIT $limit
                    """;
                command.Set("$tenant", SqliteValues.Id(tenantId ?? Guid.Empty))
                    .Set("$from", SqliteValues.Ms(query.From))
                    .Set("$to", SqliteValues.Ms(query.To))
                    .Set("$actor", SqliteValues.Text(query.Actor))
                    .Set("$type", SqliteValues.Text(type))
                    .Set("$resource", SqliteValues.Text(id))
                    .Set("$action", SqliteValues.Text(query.Action))
                    .Set("$before", query.Before is { } before ? before : DBNull.Value)
                    .Set("$limit", Math.Clamp(query.Limit, 1, IAuditStore.MaxLimit));
                return command.ReadAll(Read);
            },
            ct);

    public Task<AuditVerification> VerifyAsync(Guid? tenantId, CancellationToken ct) =>
        db.ReadAsync(
            connection =>
            {
                var chain = SqliteValues.Id(tenantId ?? Guid.Empty);
                // One read transaction: under WAL it is one snapshot, so the head and the entries agree.
                using var transaction = connection.BeginTransaction(deferred: true);
                (long, string)? head = null;
                var (purgedSeq, purgedHash) = (0L, (string?)null);
                using (var command = connection.CreateCommand())
                {
                    command.Transaction = transaction;
                    command.CommandText = "SELECT seq, hash, purged_seq, purged_hash FROM audit_chains WHERE tenant_id = $tenant";
                    command.Set("$tenant", chain);
                    using var reader = command.ExecuteReader();
                    if (reader.Read())
                    {
                        head = (reader.GetInt64(0), reader.GetString(1));
                        (purgedSeq, purgedHash) = (reader.GetInt64(2), reader.GetStringOrNull(3));
                    }
                }

                using (var command = connection.CreateCommand())
                {
                    command.Transaction = transaction;
                    command.CommandText = $"SELECT {Columns} FROM audit_entries WHERE tenant_id = $tenant ORDER BY seq";
                    command.Set("$tenant", chain);
                    using var reader = command.ExecuteReader();
                    var check = new AuditChainCheck(purgedSeq, purgedHash);
                    while (reader.Read())
                    {
                        if (!check.Add(Read(reader)))
                        {
                            break;
                        }
                    }

                    return check.Finish(head);
                }
            },
            ct);

    public Task<int> PurgeAsync(DateTimeOffset now, TimeSpan keep, TimeSpan slack, int batch, CancellationToken ct) =>
        db.WriteAsync(
            scope =>
            {
                var before = now - keep;
                var due = scope.Command(
                        """
                        SELECT c.tenant_id FROM audit_chains c
                        WHERE (SELECT min(e.at) FROM audit_entries e WHERE e.tenant_id = c.tenant_id) < $due
                        """)
                    .Set("$due", SqliteValues.Ms(before - slack))
                    .ReadAll(static r => r.GetId(0));
                var deleted = 0;
                foreach (var chain in due)
                {
                    deleted += PurgeChain(scope, chain, now, before, batch);
                }

                return deleted;
            },
            ct);

    /// <summary>One chain's purge: the leading run of entries older than <paramref name="before"/> (stopping at the
    /// first that is not), the anchor moved to the last one, and the <c>audit.purge</c> entry.</summary>
    private static int PurgeChain(WriteScope scope, Guid chain, DateTimeOffset now, DateTimeOffset before, int batch)
    {
        var id = SqliteValues.Id(chain);
        var purged = (long)scope.Command("SELECT purged_seq FROM audit_chains WHERE tenant_id = $tenant").Set("$tenant", id).ExecuteScalar()!;
        (long Seq, string Hash)? last = null;
        using (var reader = scope.Command("SELECT seq, hash, at < $before FROM audit_entries WHERE tenant_id = $tenant AND seq > $purged ORDER BY seq LIMIT $batch")
            .Set("$tenant", id).Set("$purged", purged).Set("$before", SqliteValues.Ms(before)).Set("$batch", batch).ExecuteReader())
        {
            while (reader.Read() && reader.GetBoolean(2))
            {
                last = (reader.GetInt64(0), reader.GetString(1));
            }
        }

        if (last is not { } through)
        {
            return 0;
        }

        var deleted = scope.Command("DELETE FROM audit_entries WHERE tenant_id = $tenant AND seq <= $through")
            .Set("$tenant", id).Set("$through", through.Seq).ExecuteNonQuery();
        scope.Command("UPDATE audit_chains SET purged_seq = $through, purged_hash = $hash WHERE tenant_id = $tenant")
            .Set("$tenant", id).Set("$through", through.Seq).Set("$hash", through.Hash).ExecuteNonQuery();
        Append(scope, AuditPurge.Entry(chain == Guid.Empty ? null : chain, now, purged + 1, through.Seq, before));
        return deleted;
    }

    private static AuditEntry Read(SqliteDataReader r)
    {
        var tenant = r.GetId(1);
        return new AuditEntry(
            r.GetId(0), tenant == Guid.Empty ? null : tenant, r.GetInt64(2), r.GetTime(3), r.GetString(4), r.GetIdOrNull(5),
            r.GetString(6), r.GetString(7), r.GetString(8), r.GetStringOrNull(9), r.GetStringOrNull(10), r.GetStringOrNull(11),
            r.GetString(12), r.GetString(13));
    }
}
