using Herald.Core.Delivery;
using Npgsql;
using NpgsqlTypes;
using static Herald.Storage.Postgres.PostgresRows;

namespace Herald.Storage.Postgres;

public sealed class PostgresAttemptPartStore(NpgsqlDataSource dataSource) : IAttemptPartStore
{
    private const string PartColumns =
        "attempt_id, part_index, parts, provider_id, provider_message_id, state, error_code, error, received_at";

    public async Task<IReadOnlyList<PendingReceipt>> RecordAsync(
        Guid attemptId, Guid providerId, IReadOnlyList<string> messageIds, DateTimeOffset now, CancellationToken ct)
    {
        if (messageIds.Count == 0)
        {
            return [];
        }

        // One statement: the parts go in, and receipts that beat them here come out of the pending set.
        await using var cmd = dataSource.CreateCommand(
            $"""
            WITH ins AS (
                INSERT INTO attempt_parts (attempt_id, part_index, parts, provider_id, provider_message_id, state, created_at)
                SELECT @attempt, m.ord - 1, @parts, @provider, m.id, {(short)ReceiptState.Sent}, @now
                FROM unnest(@ids) WITH ORDINALITY AS m(id, ord)
                ON CONFLICT (attempt_id, part_index) DO NOTHING
            )
            DELETE FROM pending_receipts p WHERE p.provider_id = @provider AND p.provider_message_id = ANY(@ids)
            RETURNING p.provider_id, p.provider_message_id, p.state, p.error_code, p.error, p.received_at
            """);
        cmd.Parameters.Add(Param("attempt", attemptId));
        cmd.Parameters.Add(Param("parts", messageIds.Count));
        cmd.Parameters.Add(Param("provider", providerId));
        cmd.Parameters.Add(Param("now", Utc(now)));
        cmd.Parameters.Add(Array("ids", NpgsqlDbType.Text, messageIds.ToArray()));
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var taken = new List<PendingReceipt>();
        while (await r.ReadAsync(ct))
        {
            taken.Add(ReadPendingReceipt(r));
        }

        return [.. taken.OrderBy(static p => p.ReceivedAt)];
    }

    public async Task<PartsProgress?> ApplyReceiptAsync(PendingReceipt receipt, CancellationToken ct)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        Guid attemptId;
        int index;
        await using (var find = new NpgsqlCommand(
            """
            SELECT attempt_id, part_index FROM attempt_parts
            WHERE provider_message_id = @pmid AND provider_id = @provider
            ORDER BY created_at DESC LIMIT 1
            """, conn))
        {
            find.Parameters.Add(Param("pmid", receipt.ProviderMessageId));
            find.Parameters.Add(Param("provider", receipt.ProviderId));
            await using var r = await find.ExecuteReaderAsync(ct);
            if (!await r.ReadAsync(ct))
            {
                return null;
            }

            attemptId = r.GetGuid(0);
            index = r.GetInt32(1);
        }

        // The attempt's parts stay locked until commit: two receipts of one message take turns, so the one that
        // completes it sees every other part's state.
        await using var tx = await conn.BeginTransactionAsync(ct);
        var progress = await ReadAsync(conn, tx, attemptId, forUpdate: true, ct);
        var next = progress.With(index, receipt);
        if (!ReferenceEquals(next, progress))
        {
            var part = next.Parts[index];
            await using var update = new NpgsqlCommand(
                """
                UPDATE attempt_parts SET state = @state, error_code = @code, error = @error, received_at = @at
                WHERE attempt_id = @attempt AND part_index = @index
                """, conn, tx);
            update.Parameters.Add(Param("state", (short)part.State));
            update.Parameters.Add(Param("code", NpgsqlDbType.Text, part.ErrorCode));
            update.Parameters.Add(Param("error", NpgsqlDbType.Text, part.Error));
            update.Parameters.Add(Param("at", NpgsqlDbType.TimestampTz, Utc(part.ReceivedAt)));
            update.Parameters.Add(Param("attempt", attemptId));
            update.Parameters.Add(Param("index", index));
            await update.ExecuteNonQueryAsync(ct);
        }

        await tx.CommitAsync(ct);
        return new PartsProgress([.. next.Parts.Select(p => p with { ReceivedAt = Utc(p.ReceivedAt) })]);
    }

    public async Task<IReadOnlyList<AttemptPart>> ListAsync(Guid attemptId, CancellationToken ct)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        return (await ReadAsync(conn, null, attemptId, forUpdate: false, ct)).Parts;
    }

    private static async Task<PartsProgress> ReadAsync(NpgsqlConnection conn, NpgsqlTransaction? tx, Guid attemptId, bool forUpdate, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(
            $"SELECT {PartColumns} FROM attempt_parts WHERE attempt_id = @attempt ORDER BY part_index{(forUpdate ? " FOR UPDATE" : "")}", conn, tx);
        cmd.Parameters.Add(Param("attempt", attemptId));
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var parts = new List<AttemptPart>();
        while (await r.ReadAsync(ct))
        {
            parts.Add(new AttemptPart(
                r.GetGuid(0), r.GetInt32(1), r.GetInt32(2), r.GetGuid(3), r.GetString(4), (ReceiptState)r.GetInt16(5),
                r.IsDBNull(6) ? null : r.GetString(6), r.IsDBNull(7) ? null : r.GetString(7),
                r.IsDBNull(8) ? null : r.GetFieldValue<DateTimeOffset>(8)));
        }

        return new PartsProgress(parts);
    }
}
