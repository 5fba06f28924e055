using System.Net.Http.Json;
using Herald.EndToEnd.Tests.Infrastructure;
using Herald.Server.Hosting;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Herald.EndToEnd.Tests;

/// <summary>
/// Issue #17: <c>herald audit-verify [--tenant id]</c>, run as its own process beside a serving node on both backends,
/// prints per chain the entries checked and the first broken link, and exits 0 when every chain holds, 1 when one is
/// broken (an entry altered with SQL behind Herald's back).
/// </summary>
public sealed class AuditVerifyCommandTests(PostgresFixture postgres)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("postgres")]
    [InlineData("sqlite")]
    public async Task AuditVerify_PrintsEachChain_AndExits1AtTheFirstBrokenLink(string backend)
    {
        using var folder = new TempFolder();
        var settings = backend == "postgres"
            ? HeraldHost.BaseSettings(await postgres.CreateDatabaseAsync("e2e_auditverify_" + Guid.NewGuid().ToString("N")[..8]))
            : HeraldHost.SqliteSettings(folder.Path);
        await using var host = await HeraldHost.StartAsync(HeraldRole.All, settings);
        var (tenantId, client) = await host.CreateTenantAsync();
        var (otherId, _) = await host.CreateTenantAsync("Other Bank");
        for (var i = 1; i <= 3; i++)
        {
            using var put = await client.PutAsJsonAsync("/v1/rules", new { rules = new[] { new { name = $"r{i}", then = new { priority = "low" } } } }, Ct);
            Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync(Ct));
        }

        var (exitCode, stdout, stderr) = await EncryptionAtRestTests.RunVerbAsync(folder.Path, settings, [], "audit-verify");

        Assert.True(exitCode == 0, stdout + stderr);
        Assert.Contains($"audit-verify: tenant {tenantId:D} (", stdout, StringComparison.Ordinal);
        Assert.Matches($@"tenant {tenantId:D} \(.*\): 5 entries checked, ok", stdout);
        Assert.Contains($"audit-verify: tenant {otherId:D} (", stdout, StringComparison.Ordinal);
        Assert.Contains("audit-verify: system: ", stdout, StringComparison.Ordinal);

        await ExecuteAsync(settings, $"UPDATE audit_entries SET actor = 'system' WHERE tenant_id = '{tenantId}' AND seq = 4");
        (exitCode, stdout, stderr) = await EncryptionAtRestTests.RunVerbAsync(folder.Path, settings, [], "audit-verify");

        Assert.True(exitCode == 1, stdout + stderr);
        Assert.Matches($@"tenant {tenantId:D} \(.*\): \d+ entries checked, BROKEN at seq 4 \(entry [0-9a-f-]{{36}}\): ", stdout);
        Assert.Matches($@"tenant {otherId:D} \(.*\): \d+ entries checked, ok", stdout);

        // One chain only: the other tenant's holds.
        (exitCode, stdout, stderr) = await EncryptionAtRestTests.RunVerbAsync(folder.Path, settings, ["--tenant", otherId.ToString("D")], "audit-verify");
        Assert.True(exitCode == 0, stdout + stderr);
        Assert.DoesNotContain(tenantId.ToString("D"), stdout, StringComparison.Ordinal);

        (exitCode, _, stderr) = await EncryptionAtRestTests.RunVerbAsync(folder.Path, settings, ["--tenant", "not-a-tenant"], "audit-verify");
        Assert.Equal(2, exitCode);
        Assert.Contains("--tenant must be a tenant id", stderr, StringComparison.Ordinal);
    }

    /// <summary>Raw SQL behind Herald's back, as someone with database access would write it.</summary>
    private static async Task ExecuteAsync(Dictionary<string, string?> settings, string sql)
    {
        if (settings.GetValueOrDefault("Herald:Storage") == "postgres" && settings["ConnectionStrings:Postgres"] is { } postgresConnection)
        {
            await using var connection = new NpgsqlConnection(postgresConnection);
            await connection.OpenAsync(Ct);
            await using var command = new NpgsqlCommand(sql, connection);
            await command.ExecuteNonQueryAsync(Ct);
            return;
        }

        await using var sqlite = new SqliteConnection(settings["ConnectionStrings:Sqlite"] + ";Pooling=False");
        await sqlite.OpenAsync(Ct);
        await using var sqliteCommand = sqlite.CreateCommand();
        sqliteCommand.CommandText = sql;
        await sqliteCommand.ExecuteNonQueryAsync(Ct);
    }
}
