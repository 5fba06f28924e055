namespace Herald.Storage.Sqlite;

internal sealed class SqliteErasureStore(SqliteDatabase db) : IErasureStore
{
    private const string Matches =
        "(n.customer_id = $customer OR json_extract(n.contacts, '$.phone') = $phone OR json_extract(n.contacts, '$.email') = $email)";

    public Task<IReadOnlyList<Guid>> InFlightAsync(Guid tenantId, ErasureTarget target, int max, CancellationToken ct) =>
        db.ReadAsync<IReadOnlyList<Guid>>(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText =
                    $"SELECT n.id FROM notifications n WHERE n.tenant_id = $tenant AND {Matches} AND {StateSql.NotFinal("n.status")} ORDER BY n.id LIMIT $max";
                Bind(command, tenantId, target).Set("$max", max);
                return command.ReadAll(r => r.GetId(0));
            },
            ct);

    // As PostgreSQL: every contact but the language and every top-level data value become the marker.
    public Task<(int Redacted, Guid? Last)> RedactAsync(Guid tenantId, ErasureTarget target, Guid? after, int batch, CancellationToken ct) =>
        db.WriteAsync(
            scope =>
            {
                var select = scope.Command(
                    $"SELECT n.id FROM notifications n WHERE n.tenant_id = $tenant AND n.id > $after AND {Matches} ORDER BY n.id LIMIT $batch");
                Bind(select, tenantId, target).Set("$after", SqliteValues.Id(after ?? Guid.Empty)).Set("$batch", batch);
                var ids = select.ReadAll(r => r.GetId(0));
                var update = scope.Command(
                    """
                    UPDATE notifications SET
                        contacts = (SELECT coalesce(json_group_object(key, CASE WHEN key = 'language' THEN value ELSE $marker END), '{}')
                                    FROM json_each(notifications.contacts)),
                        data = CASE WHEN json_type(data) = 'object'
                                    THEN (SELECT coalesce(json_group_object(key, $marker), '{}') FROM json_each(notifications.data))
                                    ELSE json_quote($marker) END
                    WHERE id = $id
                    """);
                foreach (var id in ids)
                {
                    update.Set("$id", SqliteValues.Id(id)).Set("$marker", IErasureStore.Marker).ExecuteNonQuery();
                }

                return (ids.Count, ids.Count == 0 ? (Guid?)null : ids[^1]);
            },
            ct);

    private static Microsoft.Data.Sqlite.SqliteCommand Bind(Microsoft.Data.Sqlite.SqliteCommand command, Guid tenantId, ErasureTarget target) =>
        command.Set("$tenant", SqliteValues.Id(tenantId))
            .Set("$customer", SqliteValues.Text(target.CustomerId))
            .Set("$phone", SqliteValues.Text(target.Phone))
            .Set("$email", SqliteValues.Text(target.Email));
}
