using Npgsql;

namespace Herald.Storage.Postgres;

/// <summary>Ready when a <c>SELECT 1</c> answers within two seconds.</summary>
public sealed class PostgresHealth(NpgsqlDataSource dataSource) : IStorageHealth
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);

    public async Task<bool> IsReadyAsync(CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(Timeout);
        try
        {
            await using var conn = await dataSource.OpenConnectionAsync(cts.Token);
            await using var cmd = new NpgsqlCommand("SELECT 1", conn) { CommandTimeout = (int)Timeout.TotalSeconds };
            return await cmd.ExecuteScalarAsync(cts.Token) is 1;
        }
        catch (Exception e) when (e is NpgsqlException or OperationCanceledException or TimeoutException or InvalidOperationException)
        {
            ct.ThrowIfCancellationRequested();
            return false;
        }
    }
}
