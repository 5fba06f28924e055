using System.Diagnostics;
using Npgsql;

namespace Herald.EndToEnd.Tests.Infrastructure;

/// <summary>
/// SQL helpers for tests that hold Herald inside the database: a test trigger waits on an advisory lock the test
/// holds, and the test counts the transactions waiting for it.
/// </summary>
internal static class AdvisoryHold
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Transactions of this connection's database waiting for an advisory lock.</summary>
    public static async Task<long> WaitingAsync(NpgsqlConnection conn)
    {
        await using var cmd = new NpgsqlCommand(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            conn);
        return (long)(await cmd.ExecuteScalarAsync(Ct))!;
    }

    public static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"Timed out waiting for {what}.");
            await Task.Delay(20, Ct);
        }
    }

    public static async Task ExecuteAsync(NpgsqlDataSource dataSource, string sql)
    {
        await using var cmd = dataSource.CreateCommand(sql);
        await cmd.ExecuteNonQueryAsync(Ct);
    }

    public static async Task ExecuteAsync(NpgsqlConnection conn, string sql)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync(Ct);
    }
}
