using Herald.Core.Customers;
using Herald.Core.Notifications;
using Npgsql;
using Herald.Storage.Secrets;
using NpgsqlTypes;
using static Herald.Storage.Postgres.PostgresRows;

namespace Herald.Storage.Postgres;

public sealed class PostgresConsentStore(NpgsqlDataSource dataSource, ChangeFeed changes, TenantKeys keys) : IConsentStore
{
    /// <summary>Ledger columns, 12 of them, for <see cref="Read"/>; the table is aliased <c>c</c>.</summary>
    internal const string Columns =
        "c.id, c.tenant_id, c.customer_id, c.channel, c.address, c.type, c.action, c.source, c.actor, c.recorded_at, c.message_id, c.sealed";

    public async Task<IReadOnlyList<bool>> AppendAsync(IReadOnlyList<NewConsent> entries, CancellationToken ct)
    {
        if (entries.Count == 0)
        {
            return [];
        }

        var tenant = OneTenant(entries);
        // The address sealed and hashed (issue #17, ConsentSeal): nothing of it in plaintext.
        var tenantKeys = await keys.ForWriteAsync(tenant, ct);
        return await changes.WriteAsync<IReadOnlyList<bool>>(async connection =>
        {
            // One statement for the batch; a keyword message already recorded (a vendor's retry) conflicts and is skipped.
            await using var cmd = new NpgsqlCommand(
                """
                INSERT INTO consents (id, tenant_id, customer_id, channel, address, type, action, source, actor, recorded_at, message_id, inbound_ref,
                    sealed, address_hash)
                SELECT * FROM unnest(@id, @tenant, @customer, @channel, @address, @type, @action, @source, @actor, @at, @message, @ref,
                    @sealed, @address_hash)
                ON CONFLICT (tenant_id, inbound_ref) WHERE inbound_ref IS NOT NULL DO NOTHING
                RETURNING id
                """, connection);
            cmd.Parameters.Add(Array("id", NpgsqlDbType.Uuid, entries.Select(e => e.Entry.Id).ToArray()));
            cmd.Parameters.Add(Array("tenant", NpgsqlDbType.Uuid, entries.Select(e => e.Entry.TenantId).ToArray()));
            cmd.Parameters.Add(Array("customer", NpgsqlDbType.Text, entries.Select(e => e.Entry.CustomerId).ToArray()));
            cmd.Parameters.Add(Array("channel", NpgsqlDbType.Smallint, entries.Select(e => (short)e.Entry.Channel).ToArray()));
            cmd.Parameters.Add(Array("address", NpgsqlDbType.Text, entries.Select(_ => ConsentSeal.SealedAddress).ToArray()));
            cmd.Parameters.Add(Array("sealed", NpgsqlDbType.Bytea, entries.Select(e => ConsentSeal.Seal(tenantKeys, e.Entry.Id, e.Entry.Address)).ToArray()));
            cmd.Parameters.Add(Array("address_hash", NpgsqlDbType.Bytea, entries.Select(e => ConsentSeal.Hash(tenantKeys, e.Entry.Address)).ToArray()));
            cmd.Parameters.Add(Array("type", NpgsqlDbType.Text, entries.Select(e => e.Entry.Type).ToArray()));
            cmd.Parameters.Add(Array("action", NpgsqlDbType.Smallint, entries.Select(e => (short)e.Entry.Action).ToArray()));
            cmd.Parameters.Add(Array("source", NpgsqlDbType.Smallint, entries.Select(e => (short)e.Entry.Source).ToArray()));
            cmd.Parameters.Add(Array("actor", NpgsqlDbType.Text, entries.Select(e => e.Entry.Actor).ToArray()));
            cmd.Parameters.Add(Array("at", NpgsqlDbType.TimestampTz, entries.Select(e => Utc(e.Entry.RecordedAt)).ToArray()));
            cmd.Parameters.Add(Array("message", NpgsqlDbType.Uuid, entries.Select(e => e.Entry.MessageId).ToArray()));
            cmd.Parameters.Add(Array("ref", NpgsqlDbType.Text, entries.Select(e => e.InboundRef).ToArray()));
            var inserted = new HashSet<Guid>(await cmd.ReadAllAsync(static r => r.GetGuid(0), ct));
            IReadOnlyList<bool> added = [.. entries.Select(e => inserted.Contains(e.Entry.Id))];
            return (added, inserted.Count > 0 ? StoreChanges.Consents(tenant) : null);
        }, ct);
    }

    public async Task<IReadOnlyList<ConsentEntry>> LatestAsync(Guid tenantId, CancellationToken ct)
    {
        // Per (channel, address, type) the newest id: sealed entries group by their hash (their address is ''), plaintext
        // ones (before `herald reencrypt`) by their address (their hash is NULL); ConsentSeal.Latest merges the two kinds.
        await using var cmd = dataSource.CreateCommand(
            $"""
            SELECT DISTINCT ON (c.channel, c.address_hash, c.address, c.type) {Columns} FROM consents c
            WHERE c.tenant_id = @tenant
            ORDER BY c.channel, c.address_hash, c.address, c.type, c.id DESC
            """);
        cmd.Parameters.Add(Param("tenant", tenantId));
        return ConsentSeal.Latest(await cmd.ReadAllAsync(r => Read(r, keys), ct));
    }

    public async Task<IReadOnlyList<ConsentEntry>> ListAsync(Guid tenantId, ConsentQuery query, CancellationToken ct)
    {
        var addressHash = query.Address is null ? null : ConsentSeal.Hash(await keys.ForWriteAsync(tenantId, ct), query.Address);
        await using var cmd = dataSource.CreateCommand(
            $"""
            SELECT {Columns} FROM consents c
            WHERE c.tenant_id = @tenant
              AND (@customer::text IS NULL OR c.customer_id = @customer)
              AND (@address::text IS NULL OR c.address_hash = @address_hash OR (c.sealed IS NULL AND c.address = @address))
              AND (@channel::smallint IS NULL OR c.channel = @channel)
              AND (@from::timestamptz IS NULL OR c.recorded_at >= @from)
              AND (@before::uuid IS NULL OR c.id < @before)
            ORDER BY c.id DESC
            LIMIT @limit
            """);
        cmd.Parameters.Add(Param("tenant", tenantId));
        cmd.Parameters.Add(Param("customer", NpgsqlDbType.Text, query.CustomerId));
        cmd.Parameters.Add(Param("address", NpgsqlDbType.Text, query.Address));
        cmd.Parameters.Add(Param("address_hash", NpgsqlDbType.Bytea, addressHash));
        cmd.Parameters.Add(Param("channel", NpgsqlDbType.Smallint, query.Channel is { } channel ? (short)channel : (short?)null));
        cmd.Parameters.Add(Param("from", NpgsqlDbType.TimestampTz, Utc(query.From)));
        cmd.Parameters.Add(Param("before", NpgsqlDbType.Uuid, query.Before));
        cmd.Parameters.Add(Param("limit", Math.Clamp(query.Limit, 1, 1000)));
        return await cmd.ReadAllAsync(r => Read(r, keys), ct);
    }

    public async Task<int> RedactAsync(
        Guid tenantId, string? customerId, IReadOnlyList<(Channel Channel, string Address)> addresses, CancellationToken ct)
    {
        var tenantKeys = await keys.ForWriteAsync(tenantId, ct);
        return await changes.WriteAsync(async connection =>
        {
            var changed = await RedactAsync(connection, tenantKeys, customerId, addresses, ct);
            return (changed, changed > 0 ? StoreChanges.Consents(tenantKeys.TenantId) : null);
        }, ct);
    }

    /// <summary>Erasure's redaction on <paramref name="connection"/>, inside the caller's transaction (see
    /// <see cref="RedactAsync(Guid, string?, IReadOnlyList{ValueTuple{Channel, string}}, CancellationToken)"/>); the caller
    /// announces <see cref="StoreChanges.Consents"/> when it changed any.</summary>
    internal static async Task<int> RedactAsync(
        NpgsqlConnection connection, TenantKeySet tenantKeys, string? customerId, IReadOnlyList<(Channel Channel, string Address)> addresses, CancellationToken ct)
    {
        // The envelope and the hash go with the address (ConsentSeal); plaintext entries are found by their address.
        await using var cmd = new NpgsqlCommand(
            """
            UPDATE consents c SET address = @redacted, sealed = NULL, address_hash = NULL
            WHERE c.tenant_id = @tenant AND c.address <> @redacted
              AND (c.customer_id = @customer
                   OR (c.channel, c.address_hash) IN (SELECT * FROM unnest(@channels, @hashes))
                   OR (c.sealed IS NULL AND (c.channel, c.address) IN (SELECT * FROM unnest(@channels, @addresses))))
            """, connection);
        cmd.Parameters.Add(Param("tenant", tenantKeys.TenantId));
        cmd.Parameters.Add(Param("redacted", ConsentAddress.Redacted));
        cmd.Parameters.Add(Param("customer", NpgsqlDbType.Text, customerId));
        cmd.Parameters.Add(Array("channels", NpgsqlDbType.Smallint, addresses.Select(a => (short)a.Channel).ToArray()));
        cmd.Parameters.Add(Array("addresses", NpgsqlDbType.Text, addresses.Select(a => a.Address).ToArray()));
        cmd.Parameters.Add(Array("hashes", NpgsqlDbType.Bytea, addresses.Select(a => ConsentSeal.Hash(tenantKeys, a.Address)).ToArray()));
        return await cmd.ExecuteNonQueryAsync(ct);
    }

    public async Task<(bool Found, KeywordSettings? Settings)> GetKeywordsAsync(Guid tenantId, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand("SELECT keywords::text FROM tenants WHERE id = @id");
        cmd.Parameters.Add(Param("id", tenantId));
        await using var r = await cmd.ExecuteReaderAsync(ct);
        return await r.ReadAsync(ct) ? (true, r.IsDBNull(0) ? null : KeywordSettingsJson.Deserialize(r.GetString(0))) : (false, null);
    }

    public async Task<bool> SetKeywordsAsync(Guid tenantId, KeywordSettings? settings, CancellationToken ct)
    {
        return await PostgresAuditStore.WriteAsync(dataSource, async connection =>
        {
            await using var cmd = new NpgsqlCommand("UPDATE tenants SET keywords = @keywords::jsonb WHERE id = @id", connection);
            cmd.Parameters.Add(Param("id", tenantId));
            cmd.Parameters.Add(Param("keywords", NpgsqlDbType.Text, settings is null ? null : KeywordSettingsJson.Serialize(settings)));
            return await cmd.ExecuteNonQueryAsync(ct) == 1;
        }, static updated => updated, ct);
    }

    private static Guid OneTenant(IReadOnlyList<NewConsent> entries)
    {
        var tenant = entries[0].Entry.TenantId;
        return entries.All(e => e.Entry.TenantId == tenant)
            ? tenant
            : throw new ArgumentException("A consent batch belongs to one tenant.", nameof(entries));
    }

    /// <summary>Reads an entry at column <paramref name="o"/> (<see cref="Columns"/>); a sealed address is opened.</summary>
    internal static ConsentEntry Read(NpgsqlDataReader r, TenantKeys keys, int o = 0) => ConsentSeal.Open(keys, new(
        r.GetGuid(o),
        r.GetGuid(o + 1),
        NullableString(r, o + 2),
        (Channel)r.GetInt16(o + 3),
        r.GetString(o + 4),
        NullableString(r, o + 5),
        (ConsentAction)r.GetInt16(o + 6),
        (ConsentSource)r.GetInt16(o + 7),
        r.GetString(o + 8),
        r.GetFieldValue<DateTimeOffset>(o + 9),
        NullableGuid(r, o + 10)), r.IsDBNull(o + 11) ? null : r.GetFieldValue<byte[]>(o + 11));
}
