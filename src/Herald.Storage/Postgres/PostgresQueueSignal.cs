using Npgsql;

namespace Herald.Storage.Postgres;

/// <summary>The <c>herald_queue</c> channel that wakes waiting workers.</summary>
internal static class PostgresQueueSignal
{
    public const string Channel = "herald_queue";

    /// <summary>
    /// Sends the wake-up after the data is committed, as its own statement: a transaction that notifies holds a
    /// cluster-wide lock through its commit flush, which would serialise every ingest commit behind one another.
    /// Best effort: the data is already committed, and workers also poll the next due time.
    /// </summary>
    public static async Task NotifyAsync(NpgsqlConnection conn)
    {
        try
        {
            await using var cmd = new NpgsqlCommand($"NOTIFY {Channel}", conn);
            await cmd.ExecuteNonQueryAsync(CancellationToken.None);
        }
        catch (NpgsqlException)
        {
            // Reporting a failure here would make the caller believe a committed write was lost.
        }
    }
}
