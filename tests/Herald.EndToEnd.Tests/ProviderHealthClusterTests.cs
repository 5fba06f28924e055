using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Herald.Channels.Providers;
using Herald.Core.Notifications;
using Herald.EndToEnd.Tests.Infrastructure;
using Herald.Server.Hosting;
using Herald.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.EndToEnd.Tests;

/// <summary>
/// Circuits live in the sending nodes: an api node that never sends must still show an operator that a worker holds a
/// provider's circuit open, and a reset through it must close the circuit on the worker (issue #3, provider pools).
/// </summary>
public sealed class ProviderHealthClusterTests(PostgresFixture postgres)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ApiNode_ShowsTheWorkersOpenCircuit_AndItsResetClosesItOnTheWorker()
    {
        var database = await postgres.CreateDatabaseAsync("circuits_" + Guid.NewGuid().ToString("N")[..12]);
        var settings = HeraldHost.BaseSettings(database);
        settings["Herald:Channels:CircuitMinimumThroughput"] = "2";
        settings["Herald:Channels:CircuitBreakDuration"] = "00:05:00";
        settings["Herald:Channels:CircuitReportInterval"] = "00:00:00.200";
        await using var api = await HeraldHost.StartAsync(HeraldRole.Api, settings);
        await using var worker = await HeraldHost.StartAsync(HeraldRole.Worker, settings);
        await worker.Services.GetRequiredService<IChangeFeed>().Listening.WaitAsync(Deadline, Ct);
        var (_, client) = await api.CreateTenantAsync();
        var rest = (await client.GetFromJsonAsync<JsonArray>("/v1/providers", Ct))!.Single(p => p.Str("kind") == "twilio-sms")!.AsObject();
        var id = rest.Str("id");
        var sid = rest["settings"].Str("accountSid");

        // The worker has loaded the account and reports it closed; the api node has no breaker of its own.
        var seen = await EventuallyAsync(client, id, p => p.Str("health") == "closed" && p["nodes"]!.AsArray().Count == 1);
        Assert.NotEqual("", seen["nodes"]![0].Str("node"));

        using (var outage = await api.SandboxClient().PutAsync($"/sandbox/outages/{sid}", null, Ct))
        {
            Assert.Equal(HttpStatusCode.NoContent, outage.StatusCode);
        }

        for (var i = 0; i < 4; i++)
        {
            await client.SendAsync(new { type = "account.balance", channels = new[] { "sms" }, customer = new { phone = TestData.Phone() }, data = new { text = "Balance" } });
        }

        var open = await EventuallyAsync(client, id, p => p.Str("health") == "open");
        Assert.Equal("open", Assert.Single(open["nodes"]!.AsArray())!.Str("state"));

        using (var back = await api.SandboxClient().DeleteAsync($"/sandbox/outages/{sid}", Ct))
        {
            Assert.Equal(HttpStatusCode.NoContent, back.StatusCode);
        }

        // The break lasts five minutes: only the reset, fanned out to the worker, can close it now.
        using (var reset = await client.PostAsync($"/v1/providers/{id}/reset", null, Ct))
        {
            Assert.Equal(HttpStatusCode.OK, reset.StatusCode);
        }

        await EventuallyAsync(client, id, p => p.Str("health") == "closed");
    }

    [Fact]
    public async Task AccountChangesOnTheApiNode_ReachTheWorkersRoutingTable_WithoutWaitingForItsRefresh()
    {
        var database = await postgres.CreateDatabaseAsync("accounts_" + Guid.NewGuid().ToString("N")[..12]);
        var settings = HeraldHost.BaseSettings(database);
        // Far longer than the test: only the change fan-out can explain the worker seeing the changes.
        settings["Herald:Channels:ProviderRefreshInterval"] = "00:10:00";
        await using var api = await HeraldHost.StartAsync(HeraldRole.Api, settings);
        await using var worker = await HeraldHost.StartAsync(HeraldRole.Worker, settings);
        await worker.Services.GetRequiredService<IChangeFeed>().Listening.WaitAsync(Deadline, Ct);
        var directory = worker.Services.GetRequiredService<ProviderDirectory>();

        // A new tenant's sandbox accounts, created in one transaction, arrive together.
        var (tenantId, client) = await api.CreateTenantAsync();
        var accounts = (await client.GetFromJsonAsync<JsonArray>("/v1/providers", Ct))!;
        await TestData.EventuallyAsync(
            () => Task.FromResult(directory.All.Count(a => a.TenantId == tenantId)), n => n == accounts.Count, TestData.PropagationDeadline,
            "the worker to load the new tenant's accounts");
        var phone = TestData.Phone();
        var id = await client.SendAsync(new { type = "account.balance", channels = new[] { "sms" }, customer = new { phone }, data = new { text = "Balance" } });
        await client.WaitForStatusAsync(id, "delivered");

        // Disabled on the api node: gone from the worker's table at once.
        var telegram = accounts.Single(a => a.Str("channel") == "telegram")!.Str("id");
        using (var patch = await client.PatchAsJsonAsync($"/v1/providers/{telegram}", new { enabled = false }, Ct))
        {
            Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
        }

        var clock = System.Diagnostics.Stopwatch.StartNew();
        await TestData.EventuallyAsync(
            () => Task.FromResult(directory.For(tenantId, Channel.Telegram).Count), n => n == 0, TestData.PropagationDeadline,
            "the worker to drop the disabled account");
        TestContext.Current.TestOutputHelper?.WriteLine($"The disabled account left the worker's table after {clock.Elapsed.TotalMilliseconds:F0} ms.");
    }

    private static async Task<JsonObject> EventuallyAsync(HttpClient client, string id, Func<JsonObject, bool> condition) =>
        await TestData.EventuallyAsync(
            async () => (await client.GetFromJsonAsync<JsonObject>($"/v1/providers/{id}", Ct))!, condition, Deadline, $"provider {id} to match");
}
