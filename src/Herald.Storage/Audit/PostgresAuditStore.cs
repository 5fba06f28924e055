using Herald.Core.Notifications;
using Npgsql;
using NpgsqlTypes;
using static Herald.Storage.Postgres.PostgresRows;

namespace Herald.Storage.Postgres;

/// <summary>The audit trail in PostgreSQL. Appends of one chain are serialised by locking the chain's head row
/// (<c>audit_chains</c>) until the writing transaction ends; the lock is taken last in a store's transaction, after the
/// rows it changes, so two writers never wait on each other in opposite orders.</summary>
public sealed class PostgresAuditStore(NpgsqlDataSource dataSource) : IAuditStore
{
    private const string Columns =
        "id, tenant_id, seq, at, actor, key_id, action, resource_type, resource_id, diff, request_id, client_address, prev_hash, hash";

    public async Task<AuditEntry> AppendAsync(AuditChange change, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        var entry = await AppendAsync(connection, change, ct);
        await transaction.CommitAsync(ct);
        return entry;
    }

    /// <summary>
    /// A store write of one or more statements on one connection: with a pending act (<see cref="AuditScope"/>), in a
    /// transaction that appends it when <paramref name="changed"/> says the write changed something; without one, as
    /// the bare statements (no transaction to pay for).
    /// </summary>
    /// <param name="createdId">The id of what the write created, for an act that did not know it.</param>
    internal static async Task<T> WriteAsync<T>(
        NpgsqlDataSource dataSource, Func<NpgsqlConnection, Task<T>> write, Func<T, bool> changed, CancellationToken ct, Func<T, string>? createdId = null)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        if (AuditScope.Pending is null)
        {
            return await write(connection);
        }

        await using var transaction = await connection.BeginTransactionAsync(ct);
        var result = await write(connection);
        if (changed(result))
        {
            await AppendPendingAsync(connection, ct, createdId?.Invoke(result));
        }

        await transaction.CommitAsync(ct);
        return result;
    }

    /// <summary>Appends the request's pending act (<see cref="AuditScope.Pending"/>), if any, inside the caller's open
    /// transaction on <paramref name="connection"/>.</summary>
    /// <param name="createdId">The id of a resource the store itself created, for an act whose id was not known before.</param>
    internal static async Task AppendPendingAsync(NpgsqlConnection connection, CancellationToken ct, string? createdId = null)
    {
        if (AuditScope.Pending is { } change)
        {
            await AppendAsync(connection, createdId is not null && change.ResourceId.Length == 0 ? change with { ResourceId = createdId } : change, ct);
        }
    }

    /// <summary>Appends <paramref name="change"/> inside the caller's open transaction.</summary>
    internal static async Task<AuditEntry> AppendAsync(NpgsqlConnection connection, AuditChange change, CancellationToken ct)
    {
        var chain = change.TenantId ?? Guid.Empty;
        await using (var head = new NpgsqlCommand(
            "INSERT INTO audit_chains (tenant_id, seq, hash) VALUES (@tenant, 0, @genesis) ON CONFLICT (tenant_id) DO NOTHING", connection))
        {
            head.Parameters.Add(Param("tenant", chain));
            head.Parameters.Add(Param("genesis", AuditHash.Genesis));
            await head.ExecuteNonQueryAsync(ct);
        }

        long seq;
        string prev;
        await using (var locked = new NpgsqlCommand("SELECT seq, hash FROM audit_chains WHERE tenant_id = @tenant FOR UPDATE", connection))
        {
            locked.Parameters.Add(Param("tenant", chain));
            await using var r = await locked.ExecuteReaderAsync(ct);
            await r.ReadAsync(ct);
            seq = r.GetInt64(0);
            prev = r.GetString(1);
        }

        var entry = AuditHash.Next(change, TimeOrderedIds.New(change.At), seq, prev);
        await using (var insert = new NpgsqlCommand(
            $"""
            INSERT INTO audit_entries ({Columns})
            VALUES (@id, @tenant, @seq, @at, @actor, @key, @action, @type, @resource, @diff, @request, @client, @prev, @hash);
            UPDATE audit_chains SET seq = @seq, hash = @hash WHERE tenant_id = @tenant;
            """, connection))
        {
            insert.Parameters.Add(Param("id", entry.Id));
            insert.Parameters.Add(Param("tenant", chain));
            insert.Parameters.Add(Param("seq", entry.Seq));
            insert.Parameters.Add(Param("at", Utc(entry.At)));
            insert.Parameters.Add(Param("actor", entry.Actor));
            insert.Parameters.Add(Param("key", NpgsqlDbType.Uuid, entry.KeyId));
            insert.Parameters.Add(Param("action", entry.Action));
            insert.Parameters.Add(Param("type", entry.ResourceType));
            insert.Parameters.Add(Param("resource", entry.ResourceId));
            insert.Parameters.Add(Param("diff", NpgsqlDbType.Text, entry.Diff));
            insert.Parameters.Add(Param("request", NpgsqlDbType.Text, entry.RequestId));
            insert.Parameters.Add(Param("client", NpgsqlDbType.Text, entry.ClientAddress));
            insert.Parameters.Add(Param("prev", entry.PrevHash));
            insert.Parameters.Add(Param("hash", entry.Hash));
            await insert.ExecuteNonQueryAsync(ct);
        }

        return entry;
    }

    public async Task<IReadOnlyList<AuditEntry>> QueryAsync(Guid? tenantId, AuditQuery query, CancellationToken ct)
    {
        var (type, id) = SplitResource(query.Resource);
        await using var cmd = dataSource.CreateCommand(
            $"""
            SELECT {Columns} FROM audit_entries
            WHERE tenant_id = @tenant
              AND (@from::timestamptz IS NULL OR at >= @from::timestamptz)
              AND (@to::timestamptz IS NULL OR at < @to::timestamptz)
              AND (@actor::text IS NULL OR actor = @actor::text OR key_id::text = @actor::text)
              AND (@type::text IS NULL OR resource_type = @type::text)
              AND (@resource::text IS NULL OR resource_id = @resource::text)
              AND (@action::text IS NULL OR action = @action::text OR (right(@action::text, 1) = '.' AND starts_with(action, @action::text)))
              AND (@before::bigint IS NULL OR seq < @before::bigint)
            ORDER BY seq DESC LIMIT @limit
            """);
        cmd.Parameters.Add(Param("tenant", tenantId ?? Guid.Empty));
        cmd.Parameters.Add(Param("from", NpgsqlDbType.TimestampTz, Utc(query.From)));
        cmd.Parameters.Add(Param("to", NpgsqlDbType.TimestampTz, Utc(query.To)));
        cmd.Parameters.Add(Param("actor", NpgsqlDbType.Text, query.Actor));
        cmd.Parameters.Add(Param("type", NpgsqlDbType.Text, type));
        cmd.Parameters.Add(Param("resource", NpgsqlDbType.Text, id));
        cmd.Parameters.Add(Param("action", NpgsqlDbType.Text, query.Action));
        cmd.Parameters.Add(Param("before", NpgsqlDbType.Bigint, query.Before));
        cmd.Parameters.Add(Param("limit", Math.Clamp(query.Limit, 1, IAuditStore.MaxLimit)));
        return await cmd.ReadAllAsync(static r => Read(r), ct);
    }

    public async Task<AuditVerification> VerifyAsync(Guid? tenantId, CancellationToken ct)
    {
        var chain = tenantId ?? Guid.Empty;
        // One snapshot for the head and the entries: an append committing meanwhile is seen in both or in neither.
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, ct);
        (long, string)? head = null;
        var (purgedSeq, purgedHash) = (0L, (string?)null);
        await using (var cmd = new NpgsqlCommand("SELECT seq, hash, purged_seq, purged_hash FROM audit_chains WHERE tenant_id = @tenant", connection))
        {
            cmd.Parameters.Add(Param("tenant", chain));
            await using var r = await cmd.ExecuteReaderAsync(ct);
            if (await r.ReadAsync(ct))
            {
                head = (r.GetInt64(0), r.GetString(1));
                (purgedSeq, purgedHash) = (r.GetInt64(2), NullableString(r, 3));
            }
        }

        await using (var cmd = new NpgsqlCommand($"SELECT {Columns} FROM audit_entries WHERE tenant_id = @tenant ORDER BY seq", connection))
        {
            cmd.Parameters.Add(Param("tenant", chain));
            await using var r = await cmd.ExecuteReaderAsync(ct);
            var check = new AuditChainCheck(purgedSeq, purgedHash);
            while (await r.ReadAsync(ct))
            {
                if (!check.Add(Read(r)))
                {
                    break;
                }
            }

            return check.Finish(head);
        }
    }

    public async Task<int> PurgeAsync(DateTimeOffset now, TimeSpan keep, TimeSpan slack, int batch, CancellationToken ct)
    {
        var before = now - keep;
        var due = new List<Guid>();
        await using (var cmd = dataSource.CreateCommand(
            """
            SELECT c.tenant_id FROM audit_chains c
            WHERE (SELECT min(e.at) FROM audit_entries e WHERE e.tenant_id = c.tenant_id) < @due
            """))
        {
            cmd.Parameters.Add(Param("due", Utc(before - slack)));
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
            {
                due.Add(r.GetGuid(0));
            }
        }

        var deleted = 0;
        foreach (var chain in due)
        {
            deleted += await PurgeChainAsync(chain, now, before, batch, ct);
        }

        return deleted;
    }

    /// <summary>One chain's purge in one transaction; the chain's head row is locked first, as an append does.</summary>
    private async Task<int> PurgeChainAsync(Guid chain, DateTimeOffset now, DateTimeOffset before, int batch, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        long purged;
        await using (var locked = new NpgsqlCommand("SELECT purged_seq FROM audit_chains WHERE tenant_id = @tenant FOR UPDATE", connection))
        {
            locked.Parameters.Add(Param("tenant", chain));
            purged = (long)(await locked.ExecuteScalarAsync(ct))!;
        }

        // The leading run of old entries: the purge stops at the first entry that is not old enough, so the chain
        // always loses a prefix and keeps a verifiable rest.
        (long Seq, string Hash)? last = null;
        await using (var old = new NpgsqlCommand(
            "SELECT seq, hash, at < @before FROM audit_entries WHERE tenant_id = @tenant AND seq > @purged ORDER BY seq LIMIT @batch", connection))
        {
            old.Parameters.Add(Param("tenant", chain));
            old.Parameters.Add(Param("purged", purged));
            old.Parameters.Add(Param("before", Utc(before)));
            old.Parameters.Add(Param("batch", batch));
            await using var r = await old.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct) && r.GetBoolean(2))
            {
                last = (r.GetInt64(0), r.GetString(1));
            }
        }

        if (last is not { } through)
        {
            return 0;
        }

        int deleted;
        await using (var delete = new NpgsqlCommand(
            """
            DELETE FROM audit_entries WHERE tenant_id = @tenant AND seq <= @through;
            UPDATE audit_chains SET purged_seq = @through, purged_hash = @hash WHERE tenant_id = @tenant;
            """, connection))
        {
            delete.Parameters.Add(Param("tenant", chain));
            delete.Parameters.Add(Param("through", through.Seq));
            delete.Parameters.Add(Param("hash", through.Hash));
            deleted = await delete.ExecuteNonQueryAsync(ct) - 1;
        }

        await AppendAsync(connection, AuditPurge.Entry(chain == Guid.Empty ? null : chain, now, purged + 1, through.Seq, before), ct);
        await transaction.CommitAsync(ct);
        return deleted;
    }

    /// <summary>"type" or "type/id".</summary>
    internal static (string? Type, string? Id) SplitResource(string? resource)
    {
        if (string.IsNullOrEmpty(resource))
        {
            return (null, null);
        }

        var cut = resource.IndexOf('/', StringComparison.Ordinal);
        return cut < 0 ? (resource, null) : (resource[..cut], resource[(cut + 1)..]);
    }

    private static AuditEntry Read(NpgsqlDataReader r)
    {
        var tenant = r.GetGuid(1);
        return new AuditEntry(
            r.GetGuid(0), tenant == Guid.Empty ? null : tenant, r.GetInt64(2), r.GetFieldValue<DateTimeOffset>(3), r.GetString(4),
            NullableGuid(r, 5), r.GetString(6), r.GetString(7), r.GetString(8), NullableString(r, 9), NullableString(r, 10),
            NullableString(r, 11), r.GetString(12), r.GetString(13));
    }
}
