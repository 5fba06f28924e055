using System.Globalization;
using Herald.Storage;

namespace Herald.Server.Hosting;

/// <summary>
/// <c>herald reencrypt</c> (issue #17, docs/OPERATIONS.md "Key rotation and re-encryption"): re-wraps every tenant key
/// with <c>Herald:Secrets:Key</c>, rotates the data keys named by <c>Herald:Reencrypt:Rotate</c> ("all", or tenant ids
/// separated by commas; default none), then re-encrypts every stored row that is plaintext or on an older data key, in
/// batches of <c>Herald:Reencrypt:Batch</c> rows (default 1000). Each batch is one short transaction and the cursor is
/// kept in the database, so it runs beside serving nodes and resumes where a stopped run ended.
/// </summary>
internal static class ReencryptCommand
{
    public static async Task RunAsync(IServiceProvider services, IConfiguration configuration, TextWriter output, CancellationToken ct)
    {
        var section = configuration.GetSection("Herald:Reencrypt");
        var batch = 1000;
        if (section["Batch"] is { } given)
        {
            batch = int.TryParse(given, NumberStyles.None, CultureInfo.InvariantCulture, out var b) && b is > 0 and <= 100_000
                ? b
                : throw new StartupException($"Herald:Reencrypt:Batch must be a whole number from 1 to 100000, not '{given}'.");
        }

        IReadOnlyCollection<Guid>? rotate = section["Rotate"] switch
        {
            null or "" => null,
            "all" => [],
            var ids => [.. ids.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(id =>
                Guid.TryParse(id, out var tenant) ? tenant : throw new StartupException($"Herald:Reencrypt:Rotate must be 'all' or tenant ids separated by commas; '{id}' is not a tenant id."))],
        };

        var reencryptor = services.GetRequiredService<Reencryptor>();
        var lastReport = new Dictionary<ReencryptionTable, long>();
        var report = await reencryptor.RunAsync(rotate, batch, (table, scanned, rewritten) =>
        {
            // A line every 100,000 rows: enough to follow a long run without flooding the log.
            if (scanned / 100_000 != lastReport.GetValueOrDefault(table) / 100_000)
            {
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"reencrypt: {table}: {scanned} rows looked at, {rewritten} rewritten"));
            }

            lastReport[table] = scanned;
        }, ct);
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"reencrypt: {report.KeysRewrapped} tenant keys re-wrapped, {report.RotatedTo.Count} data keys rotated"));
        foreach (var (table, (scanned, rewritten)) in report.Tables)
        {
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"reencrypt: {table}: {scanned} rows looked at, {rewritten} rewritten; done"));
        }
    }
}
