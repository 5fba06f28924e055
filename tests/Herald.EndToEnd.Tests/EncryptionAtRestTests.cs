using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Herald.EndToEnd.Tests.Infrastructure;
using Herald.Server.Hosting;
using Herald.Testing;

namespace Herald.EndToEnd.Tests;

/// <summary>
/// Issue #17, encryption at rest, at the HTTP level on both backends: what a bank sends about its customers (contacts,
/// data, stored customers) and what customers send back (replies) appears nowhere in the database in plaintext, while
/// the API shows it as sent; <c>herald reencrypt</c>, run as its own process beside the serving node, rotates every
/// tenant's data key and re-encrypts every row, and the serving node keeps reading them.
/// </summary>
public sealed class EncryptionAtRestTests(PostgresFixture postgres)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData("postgres")]
    [InlineData("sqlite")]
    public async Task CustomerData_IsStoredEncrypted_ReadsBack_AndSurvivesKeyRotationByTheReencryptVerb(string backend)
    {
        using var folder = new TempFolder();
        var settings = backend == "postgres"
            ? HeraldHost.BaseSettings(await postgres.CreateDatabaseAsync("e2e_encrypt_" + Guid.NewGuid().ToString("N")[..8]))
            : HeraldHost.SqliteSettings(folder.Path);
        await using var host = await HeraldHost.StartAsync(HeraldRole.All, settings);
        Func<Task<string>> dump = backend == "postgres"
            ? () => DatabaseDump.PostgresAsync(settings["ConnectionStrings:Postgres"]!)
            : () => Task.FromResult(DatabaseDump.Sqlite(settings["ConnectionStrings:Sqlite"]!));
        var (_, client) = await host.CreateTenantAsync();
        var phone = TestData.Phone();
        var email = $"sealed-{Guid.NewGuid():N}@example.com";
        using (var put = await client.PutAsJsonAsync("/v1/customers/c-sealed", new { phone, email, attributes = new { name = "Ana Sealedname" } }))
        {
            Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());
        }

        var byCustomer = await client.SendAsync(new { type = "card.transaction", customer = new { id = "c-sealed" }, data = new { text = "Paid 71.15 at Sealed Shop" } });
        var inline = await client.SendAsync(new { type = "card.transaction", channels = new[] { "email" }, customer = new { email }, data = new { text = "Inline Sealed Mail" } });
        await client.WaitForStatusAsync(byCustomer, "delivered", Deadline);
        await client.WaitForStatusAsync(inline, "delivered", Deadline);
        using (var sandbox = host.SandboxClient())
        using (var reply = await sandbox.PostAsJsonAsync("/sandbox/replies", new { channel = "whatsapp", from = phone, text = "Sealed Private Reply" }))
        {
            Assert.True(reply.IsSuccessStatusCode, await reply.Content.ReadAsStringAsync());
        }

        await TestData.EventuallyAsync(
            async () => (await client.GetFromJsonAsync<JsonObject>("/v1/customers/c-sealed/messages"))!.ToJsonString().Contains("Sealed Private Reply", StringComparison.Ordinal),
            d => d, Deadline, "the customer's reply to be stored and shown");

        await AssertNothingInPlaintextAsync(dump, phone, email);
        // Delivery opened the sealed contacts and data: the customer got the text at its address.
        Assert.Contains("Inline Sealed Mail", (await client.SandboxMessagesAsync("email", email)).ToJsonString(), StringComparison.Ordinal);
        Assert.Equal(email, (await client.GetFromJsonAsync<JsonObject>("/v1/customers/c-sealed"))!["email"]!.GetValue<string>());

        var (exitCode, stdout, stderr) = await RunVerbAsync(folder.Path, settings, ["--Herald:Reencrypt:Rotate=all", "--Herald:Reencrypt:Batch=1"]);

        Assert.True(exitCode == 0, stderr);
        Assert.Contains("reencrypt: Notifications: 2 rows looked at, 2 rewritten; done", stdout, StringComparison.Ordinal);
        Assert.Contains("reencrypt: Customers: 1 rows looked at, 1 rewritten; done", stdout, StringComparison.Ordinal);
        await AssertNothingInPlaintextAsync(dump, phone, email);
        // The serving node learns the new key version from the rows themselves: reading a notification opens it.
        Assert.Equal("delivered", (await client.GetNotificationAsync(byCustomer))["status"]!.GetValue<string>());
        Assert.Equal("delivered", (await client.GetNotificationAsync(inline))["status"]!.GetValue<string>());
        Assert.Equal(email, (await client.GetFromJsonAsync<JsonObject>("/v1/customers/c-sealed"))!["email"]!.GetValue<string>());
        Assert.Contains("Sealed Private Reply", (await client.GetFromJsonAsync<JsonObject>("/v1/customers/c-sealed/messages"))!.ToJsonString(), StringComparison.Ordinal);
    }

    /// <summary>Digest and throttle groups are keyed by the inline phone when there is no stored customer: the key is
    /// stored as the tenant's keyed hash (in the route, the digest window and the throttle counts), and groups still form.</summary>
    [Theory]
    [InlineData("postgres")]
    [InlineData("sqlite")]
    public async Task DigestAndThrottleGroups_KeepNoContactInTheDatabase_AndStillGroup(string backend)
    {
        using var folder = new TempFolder();
        var settings = backend == "postgres"
            ? HeraldHost.BaseSettings(await postgres.CreateDatabaseAsync("e2e_groups_" + Guid.NewGuid().ToString("N")[..8]))
            : HeraldHost.SqliteSettings(folder.Path);
        await using var host = await HeraldHost.StartAsync(HeraldRole.All, settings);
        var (_, client) = await host.CreateTenantAsync();
        await RulesTests.PutAsync(client, """
            {"rules": [
              {"name": "otp-throttle", "when": "type == 'otp.code'", "then": {"channels": ["sms"], "throttle": {"max": 1, "per": "1h"}}},
              {"name": "balance-digest", "when": "type == 'balance.update'", "then": {"channels": ["sms"], "digest": {"window": "1h"}}}
            ]}
            """);
        var phone = TestData.Phone();

        var first = await client.SendAsync(new { type = "otp.code", customer = new { phone }, data = new { code = "1" } });
        await client.WaitForStatusAsync(first, "delivered", Deadline);
        var second = await client.SendAsync(new { type = "otp.code", customer = new { phone }, data = new { code = "2" } });
        await client.WaitForStatusAsync(second, "suppressed", Deadline);
        await client.SendAsync(new { type = "balance.update", customer = new { phone }, data = new { balance = 1 } });

        var text = backend == "postgres"
            ? await DatabaseDump.PostgresAsync(settings["ConnectionStrings:Postgres"]!)
            : DatabaseDump.Sqlite(settings["ConnectionStrings:Sqlite"]!);
        Assert.DoesNotContain(phone[1..], text, StringComparison.Ordinal);
    }

    private static async Task AssertNothingInPlaintextAsync(Func<Task<string>> dump, string phone, string email)
    {
        var text = await dump();
        foreach (var secret in new[] { phone[1..], email, "Sealed Shop", "Sealedname", "Inline Sealed Mail", "Sealed Private Reply" })
        {
            Assert.DoesNotContain(secret, text, StringComparison.Ordinal);
        }
    }

    /// <summary>Runs <c>herald reencrypt</c> as its own process on the test host's database and settings.</summary>
    /// <summary>Runs <c>Herald.Server.dll {verb}</c> as its own process with the host's settings.</summary>
    internal static async Task<(int ExitCode, string Stdout, string Stderr)> RunVerbAsync(
        string workingDirectory, Dictionary<string, string?> settings, string[] args, string verb = "reencrypt")
    {
        var info = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "Herald.Server.dll"), verb,
            .. settings.Where(s => s.Value is not null).Select(s => $"--{s.Key}={s.Value}"), .. args])
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.Environment["Logging__LogLevel__Default"] = "None";
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }
}
