using System.Globalization;
using Herald.Core.Customers;
using Herald.Core.Notifications;
using Herald.Storage.Secrets;
using Microsoft.Data.Sqlite;

namespace Herald.Storage.Sqlite;

internal sealed class SqliteConsentStore(SqliteDatabase db, ChangeFeed changes, TenantKeys keys) : IConsentStore
{
    internal const string Columns =
        "c.id, c.tenant_id, c.customer_id, c.channel, c.address, c.type, c.action, c.source, c.actor, c.recorded_at, c.message_id, c.sealed";

    public async Task<IReadOnlyList<bool>> AppendAsync(IReadOnlyList<NewConsent> entries, CancellationToken ct)
    {
        if (entries.Count == 0)
        {
            return [];
        }

        var tenant = entries[0].Entry.TenantId;
        if (entries.Any(e => e.Entry.TenantId != tenant))
        {
            throw new ArgumentException("A consent batch belongs to one tenant.", nameof(entries));
        }

        // The address sealed and hashed (issue #17, ConsentSeal): nothing of it in plaintext.
        var tenantKeys = await keys.ForWriteAsync(tenant, ct).ConfigureAwait(false);
        var added = await db.WriteAsync<IReadOnlyList<bool>>(
            scope =>
            {
                var insert = scope.Command(
                    """
                    INSERT INTO consents (id, tenant_id, customer_id, channel, address, type, action, source, actor, recorded_at, message_id, inbound_ref,
                        sealed, address_hash)
                    VALUES ($id, $tenant, $customer, $channel, $address, $type, $action, $source, $actor, $at, $message, $ref, $sealed, $address_hash)
                    ON CONFLICT (tenant_id, inbound_ref) WHERE inbound_ref IS NOT NULL DO NOTHING
                    """);
                var result = new bool[entries.Count];
                for (var i = 0; i < entries.Count; i++)
                {
                    var e = entries[i].Entry;
                    result[i] = insert
                        .Set("$id", SqliteValues.Id(e.Id))
                        .Set("$tenant", SqliteValues.Id(e.TenantId))
                        .Set("$customer", SqliteValues.Text(e.CustomerId))
                        .Set("$channel", (int)e.Channel)
                        .Set("$address", ConsentSeal.SealedAddress)
                        .Set("$sealed", ConsentSeal.Seal(tenantKeys, e.Id, e.Address))
                        .Set("$address_hash", ConsentSeal.Hash(tenantKeys, e.Address))
                        .Set("$type", SqliteValues.Text(e.Type))
                        .Set("$action", (int)e.Action)
                        .Set("$source", (int)e.Source)
                        .Set("$actor", e.Actor)
                        .Set("$at", SqliteValues.Ms(e.RecordedAt))
                        .Set("$message", SqliteValues.Id(e.MessageId))
                        .Set("$ref", SqliteValues.Text(entries[i].InboundRef))
                        .ExecuteNonQuery() == 1;
                }

                if (result.Any(static a => a))
                {
                    SqliteAuditStore.AppendPending(scope);
                }

                return result;
            },
            ct).ConfigureAwait(false);
        if (added.Any(static a => a))
        {
            await changes.CommittedAsync(StoreChanges.Consents(tenant)).ConfigureAwait(false);
        }

        return added;
    }

    public async Task<IReadOnlyList<ConsentEntry>> LatestAsync(Guid tenantId, CancellationToken ct) =>
        ConsentSeal.Latest(await db.ReadAsync<IReadOnlyList<ConsentEntry>>(
            connection =>
            {
                using var command = connection.CreateCommand();
                // The newest id per (channel, address, type); ids are UUIDv7 stored as canonical text, so text order is id order.
                // Sealed entries group by their hash (their address is ''), plaintext ones (before `herald reencrypt`) by their
                // address; ConsentSeal.Latest merges an address that has entries of both kinds.
                command.CommandText =
                    $"""
                    SELECT {Columns} FROM consents c
                    WHERE c.tenant_id = $tenant AND c.address_hash IS NOT NULL AND c.id = (
                        SELECT max(l.id) FROM consents l
                        WHERE l.tenant_id = c.tenant_id AND l.channel = c.channel AND l.address_hash = c.address_hash AND l.type IS c.type)
                    UNION ALL
                    SELECT {Columns} FROM consents c
                    WHERE c.tenant_id = $tenant AND c.address_hash IS NULL AND c.id = (
                        SELECT max(l.id) FROM consents l
                        WHERE l.tenant_id = c.tenant_id AND l.channel = c.channel AND l.address = c.address AND l.address_hash IS NULL
                          AND l.type IS c.type)
                    """;
                command.Set("$tenant", SqliteValues.Id(tenantId));
                return command.ReadAll(r => Read(r, keys));
            },
            ct).ConfigureAwait(false));

    public async Task<IReadOnlyList<ConsentEntry>> ListAsync(Guid tenantId, ConsentQuery query, CancellationToken ct)
    {
        var addressHash = query.Address is null ? null : ConsentSeal.Hash(await keys.ForWriteAsync(tenantId, ct).ConfigureAwait(false), query.Address);
        return await db.ReadAsync<IReadOnlyList<ConsentEntry>>(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText =
                    $"""
                    SELECT {Columns} FROM consents c
                    WHERE c.tenant_id = $tenant
                      AND ($customer IS NULL OR c.customer_id = $customer)
                      AND ($address IS NULL OR c.address_hash = $address_hash OR (c.sealed IS NULL AND c.address = $address))
                      AND ($channel IS NULL OR c.channel = $channel)
                      AND ($from IS NULL OR c.recorded_at >= $from)
                      AND ($before IS NULL OR c.id < $before)
                    ORDER BY c.id DESC
                    LIMIT $limit
                    """;
                command.Set("$tenant", SqliteValues.Id(tenantId))
                    .Set("$customer", SqliteValues.Text(query.CustomerId))
                    .Set("$address", SqliteValues.Text(query.Address))
                    .Set("$address_hash", addressHash)
                    .Set("$channel", query.Channel is { } channel ? (int)channel : DBNull.Value)
                    .Set("$from", SqliteValues.Ms(query.From))
                    .Set("$before", SqliteValues.Id(query.Before))
                    .Set("$limit", Math.Clamp(query.Limit, 1, 1000));
                return command.ReadAll(r => Read(r, keys));
            },
            ct).ConfigureAwait(false);
    }

    public async Task<int> RedactAsync(
        Guid tenantId, string? customerId, IReadOnlyList<(Channel Channel, string Address)> addresses, CancellationToken ct)
    {
        var tenantKeys = await keys.ForWriteAsync(tenantId, ct).ConfigureAwait(false);
        var changed = await db.WriteAsync(scope => Redact(scope, tenantKeys, customerId, addresses), ct).ConfigureAwait(false);
        if (changed > 0)
        {
            await changes.CommittedAsync(StoreChanges.Consents(tenantId)).ConfigureAwait(false);
        }

        return changed;
    }

    /// <summary>Erasure's redaction in the caller's write transaction; the caller announces <see cref="StoreChanges.Consents"/>
    /// after the commit when it changed any.</summary>
    internal static int Redact(WriteScope scope, TenantKeySet tenantKeys, string? customerId, IReadOnlyList<(Channel Channel, string Address)> addresses)
    {
        // At most a customer's few addresses: one parameter triple each. The envelope and the hash go with the address
        // (ConsentSeal); plaintext entries are found by their address.
        var pairs = string.Concat(addresses.Select((_, i) => string.Create(CultureInfo.InvariantCulture,
            $" OR (c.channel = $c{i} AND (c.address_hash = $h{i} OR (c.sealed IS NULL AND c.address = $a{i})))")));
        var command = scope.Command(
                "UPDATE consents AS c SET address = $redacted, sealed = NULL, address_hash = NULL " +
                $"WHERE c.tenant_id = $tenant AND c.address <> $redacted AND (c.customer_id = $customer{pairs})")
            .Set("$tenant", SqliteValues.Id(tenantKeys.TenantId)).Set("$redacted", ConsentAddress.Redacted).Set("$customer", SqliteValues.Text(customerId));
        for (var i = 0; i < addresses.Count; i++)
        {
            command.Set(string.Create(CultureInfo.InvariantCulture, $"$c{i}"), (int)addresses[i].Channel)
                .Set(string.Create(CultureInfo.InvariantCulture, $"$a{i}"), addresses[i].Address)
                .Set(string.Create(CultureInfo.InvariantCulture, $"$h{i}"), ConsentSeal.Hash(tenantKeys, addresses[i].Address));
        }

        return command.ExecuteNonQuery();
    }

    public Task<(bool Found, KeywordSettings? Settings)> GetKeywordsAsync(Guid tenantId, CancellationToken ct) =>
        db.ReadAsync(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText = "SELECT keywords FROM tenants WHERE id = $id";
                command.Set("$id", SqliteValues.Id(tenantId));
                using var r = command.ExecuteReader();
                return r.Read() ? (true, r.IsDBNull(0) ? null : KeywordSettingsJson.Deserialize(r.GetString(0))) : (false, (KeywordSettings?)null);
            },
            ct);

    public Task<bool> SetKeywordsAsync(Guid tenantId, KeywordSettings? settings, CancellationToken ct) =>
        db.WriteAsync(
            scope => SqliteAuditStore.Audited(scope, scope.Command("UPDATE tenants SET keywords = $keywords WHERE id = $id")
                .Set("$id", SqliteValues.Id(tenantId))
                .Set("$keywords", settings is null ? DBNull.Value : KeywordSettingsJson.Serialize(settings))
                .ExecuteNonQuery()) == 1,
            ct);

    /// <summary>Reads an entry (<see cref="Columns"/>); a sealed address is opened.</summary>
    internal static ConsentEntry Read(SqliteDataReader r, TenantKeys keys) => ConsentSeal.Open(keys, new(
        r.GetId(0),
        r.GetId(1),
        r.GetStringOrNull(2),
        (Channel)r.GetInt16(3),
        r.GetString(4),
        r.GetStringOrNull(5),
        (ConsentAction)r.GetInt16(6),
        (ConsentSource)r.GetInt16(7),
        r.GetString(8),
        r.GetTime(9),
        r.GetIdOrNull(10)), r.IsDBNull(11) ? null : (byte[])r.GetValue(11));
}
