using Herald.Core.Delivery;
using Microsoft.Data.Sqlite;

namespace Herald.Storage.Sqlite;

internal sealed class SqliteAttemptPartStore(SqliteDatabase db) : IAttemptPartStore
{
    private const string PartColumns =
        "attempt_id, part_index, parts, provider_id, provider_message_id, state, error_code, error, received_at";

    public Task<IReadOnlyList<PendingReceipt>> RecordAsync(
        Guid attemptId, Guid providerId, IReadOnlyList<string> messageIds, DateTimeOffset now, CancellationToken ct)
    {
        if (messageIds.Count == 0)
        {
            return Task.FromResult<IReadOnlyList<PendingReceipt>>([]);
        }

        return db.WriteAsync<IReadOnlyList<PendingReceipt>>(
            scope =>
            {
                var taken = new List<PendingReceipt>();
                for (var i = 0; i < messageIds.Count; i++)
                {
                    scope.Command(
                            """
                            INSERT INTO attempt_parts (attempt_id, part_index, parts, provider_id, provider_message_id, state, created_at)
                            VALUES ($attempt, $index, $parts, $provider, $pmid, $state, $now)
                            ON CONFLICT (attempt_id, part_index) DO NOTHING
                            """)
                        .Set("$attempt", SqliteValues.Id(attemptId)).Set("$index", i).Set("$parts", messageIds.Count)
                        .Set("$provider", SqliteValues.Id(providerId)).Set("$pmid", messageIds[i])
                        .Set("$state", (int)ReceiptState.Sent).Set("$now", SqliteValues.Ms(now))
                        .ExecuteNonQuery();
                    taken.AddRange(scope.Command(
                            """
                            DELETE FROM pending_receipts WHERE provider_id = $provider AND provider_message_id = $pmid
                            RETURNING provider_id, provider_message_id, state, error_code, error, received_at
                            """)
                        .Set("$provider", SqliteValues.Id(providerId)).Set("$pmid", messageIds[i])
                        .ReadAll(SqliteDeliveryStore.ReadReceipt));
                }

                return [.. taken.OrderBy(static p => p.ReceivedAt)];
            },
            ct);
    }

    public async Task<PartsProgress?> ApplyReceiptAsync(PendingReceipt receipt, CancellationToken ct)
    {
        // Most receipts are not for a part: a reader answers those without taking the write lock.
        var known = await db.ReadAsync(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText = "SELECT 1 FROM attempt_parts WHERE provider_message_id = $pmid LIMIT 1";
                command.Set("$pmid", receipt.ProviderMessageId);
                return command.ExecuteScalar() is not null;
            },
            ct).ConfigureAwait(false);
        return known ? await ApplyPartReceiptAsync(receipt, ct).ConfigureAwait(false) : null;
    }

    private Task<PartsProgress?> ApplyPartReceiptAsync(PendingReceipt receipt, CancellationToken ct) =>
        // The single writer serialises receipts of one message: the one that completes it sees the others.
        db.WriteAsync(
            scope =>
            {
                using var find = scope.OneOff(
                    """
                    SELECT attempt_id, part_index FROM attempt_parts
                    WHERE provider_message_id = $pmid AND provider_id = $provider
                    ORDER BY created_at DESC LIMIT 1
                    """);
                find.Set("$pmid", receipt.ProviderMessageId).Set("$provider", SqliteValues.Id(receipt.ProviderId));
                Guid attemptId;
                int index;
                using (var r = find.ExecuteReader())
                {
                    if (!r.Read())
                    {
                        return null;
                    }

                    attemptId = r.GetId(0);
                    index = r.GetInt32(1);
                }

                var progress = Read(scope.Command($"SELECT {PartColumns} FROM attempt_parts WHERE attempt_id = $attempt ORDER BY part_index")
                    .Set("$attempt", SqliteValues.Id(attemptId)));
                var next = progress.With(index, receipt);
                if (!ReferenceEquals(next, progress))
                {
                    var part = next.Parts[index];
                    scope.Command(
                            """
                            UPDATE attempt_parts SET state = $state, error_code = $code, error = $error, received_at = $at
                            WHERE attempt_id = $attempt AND part_index = $index
                            """)
                        .Set("$state", (int)part.State).Set("$code", SqliteValues.Text(part.ErrorCode)).Set("$error", SqliteValues.Text(part.Error))
                        .Set("$at", SqliteValues.Ms(part.ReceivedAt)).Set("$attempt", SqliteValues.Id(attemptId)).Set("$index", index)
                        .ExecuteNonQuery();
                }

                return new PartsProgress([.. next.Parts.Select(static p => p with
                {
                    ReceivedAt = p.ReceivedAt is { } at ? SqliteValues.Time(SqliteValues.Ms(at)) : null,
                })]);
            },
            ct,
            durable: true);

    public Task<IReadOnlyList<AttemptPart>> ListAsync(Guid attemptId, CancellationToken ct) =>
        db.ReadAsync<IReadOnlyList<AttemptPart>>(
            connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText = $"SELECT {PartColumns} FROM attempt_parts WHERE attempt_id = $attempt ORDER BY part_index";
                command.Set("$attempt", SqliteValues.Id(attemptId));
                return Read(command).Parts;
            },
            ct);

    private static PartsProgress Read(SqliteCommand command) =>
        new(command.ReadAll(static r => new AttemptPart(
            r.GetId(0), r.GetInt32(1), r.GetInt32(2), r.GetId(3), r.GetString(4), (ReceiptState)r.GetInt32(5),
            r.GetStringOrNull(6), r.GetStringOrNull(7), r.GetTimeOrNull(8))));
}
